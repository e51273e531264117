import FoundationEssentials
import KeelAPI
import SwiftProtobuf
import Testing

/// protoc-gen-swift generates messages only (no service descriptors at run time), so the method
/// table is checked against the text of Keel's rpc.proto: every service and rpc there, in order,
/// must be exactly `EtcdMethod.all` (written from etcd's file), with the generated Swift types'
/// full proto names, the stream markers and the gateway routes noted on each rpc.
@Suite struct ServiceTableTests {
    /// One rpc as read from the .proto text, in a form comparable with `EtcdMethod`.
    struct DeclaredMethod: Equatable, CustomStringConvertible {
        var path: String
        var request: String
        var response: String
        var clientStreams: Bool
        var serverStreams: Bool
        var routes: [String]

        var description: String {
            let streams = (clientStreams ? "stream " : "") + "→" + (serverStreams ? " stream" : "")
            return "\(path)(\(request) \(streams) \(response)) \(routes)"
        }
    }

    @Test func everyEtcdMethodIsDeclaredWithItsTypesAndRoutes() throws {
        let declared = try Self.declaredMethods()
        let expected = EtcdMethod.all.map { method in
            DeclaredMethod(
                path: method.path, request: method.request.protoMessageName,
                response: method.response.protoMessageName, clientStreams: method.clientStreams,
                serverStreams: method.serverStreams, routes: method.routes)
        }
        #expect(declared.count == 41)
        #expect(declared.map(\.path) == expected.map(\.path))
        for (lhs, rhs) in zip(declared, expected) {
            #expect(lhs == rhs)
        }
    }

    @Test func generatedTypesCarryEtcdsFullNames() {
        #expect(Etcdserverpb_RangeRequest.protoMessageName == "etcdserverpb.RangeRequest")
        #expect(Etcdserverpb_Compare.protoMessageName == "etcdserverpb.Compare")
        #expect(Mvccpb_KeyValue.protoMessageName == "mvccpb.KeyValue")
        #expect(Mvccpb_Event.protoMessageName == "mvccpb.Event")
        #expect(Authpb_User.protoMessageName == "authpb.User")
        #expect(Authpb_Permission.protoMessageName == "authpb.Permission")
        #expect(Authpb_Role.protoMessageName == "authpb.Role")
    }

    /// Reads services and rpcs from rpc.proto. An rpc's gateway routes are the
    /// "POST /v3/..." mentions in the `// Gateway:` comment lines just above it.
    static func declaredMethods() throws -> [DeclaredMethod] {
        let serviceLine = /^service (\w+) \{$/
        let rpcLine = /^rpc (\w+)\((stream )?(\w+)\) returns \((stream )?(\w+)\);$/
        let route = /POST (\/v3\/[a-z\/-]+)/
        var service = ""
        var routes: [String] = []
        var methods: [DeclaredMethod] = []
        for rawLine in try protoText().split(separator: "\n") {
            let line = rawLine.drop(while: \.isWhitespace)
            if let match = line.wholeMatch(of: serviceLine) {
                service = String(match.1)
            } else if line.hasPrefix("// Gateway:") {
                routes += line.matches(of: route).map { String($0.1) }
            } else if let match = line.wholeMatch(of: rpcLine) {
                methods.append(
                    DeclaredMethod(
                        path: "/etcdserverpb.\(service)/\(match.1)", request: "etcdserverpb.\(match.3)",
                        response: "etcdserverpb.\(match.5)", clientStreams: match.2 != nil,
                        serverStreams: match.4 != nil, routes: routes))
                routes = []
            }
        }
        return methods
    }

    static func protoText() throws -> String {
        let testsDirectory = URL(filePath: #filePath).deletingLastPathComponent()
        let proto = testsDirectory.appending(path: "../../Sources/KeelAPI/proto/etcdserverpb/rpc.proto")
        return try String(contentsOf: proto, encoding: .utf8)
    }
}
