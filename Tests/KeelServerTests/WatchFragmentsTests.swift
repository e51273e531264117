import Foundation
import KeelAPI
import NIOCore
import Testing
@testable import KeelServer

/// The pure pieces of the watch service: etcd's fragmentation and the gateway's reading of a
/// stream of JSON requests.
@Suite struct WatchFragmentsTests {
    private func response(eventBytes: [Int]) -> Etcdserverpb_WatchResponse {
        var response = Etcdserverpb_WatchResponse()
        response.watchID = 3
        response.header.revision = 9
        for (i, size) in eventBytes.enumerated() {
            var event = Mvccpb_Event()
            event.kv.key = Data("k\(i)".utf8)
            event.kv.value = Data(repeating: 1, count: size)
            event.kv.modRevision = 9
            response.events.append(event)
        }
        return response
    }

    private func size(_ response: Etcdserverpb_WatchResponse) throws -> Int {
        (try response.serializedBytes() as [UInt8]).count
    }

    @Test func smallOrSingleEventResponsesStayWhole() throws {
        let small = response(eventBytes: [10, 10, 10])
        #expect(WatchFragments.split(small, bytesMax: 1000) == [small])
        let single = response(eventBytes: [5000])
        #expect(WatchFragments.split(single, bytesMax: 1000) == [single])
    }

    @Test func piecesStayUnderTheLimitAndKeepEveryEvent() throws {
        for sizes in [[400, 400, 400, 400], [900, 10, 10, 900, 2000, 5], Array(repeating: 120, count: 50)] {
            let whole = response(eventBytes: sizes)
            let pieces = WatchFragments.split(whole, bytesMax: 1000)
            #expect(pieces.count > 1)
            #expect(pieces.flatMap(\.events) == whole.events)
            #expect(pieces.dropLast().allSatisfy { $0.fragment } && pieces.last?.fragment == false)
            #expect(pieces.allSatisfy { $0.header == whole.header && $0.watchID == 3 })
            for piece in pieces where piece.events.count > 1 { #expect(try size(piece) < 1000) }
            // Greedy: no piece could have taken its successor's first event.
            for (piece, next) in zip(pieces, pieces.dropFirst()) {
                var bigger = piece
                bigger.events.append(next.events[0])
                #expect(try size(bigger) >= 1000)
            }
        }
    }

    @Test func gatewayReadsAStreamOfJSONValues() {
        let body = ByteBuffer(string: #"{"create_request":{"key":"YQ=="}}"# + "\n" + #" {"a":"}{\"x"} [1,2]{"p":{}}"# + "\n")
        let values = GatewayStreamMethod.jsonValues(body).map { String(decoding: $0, as: UTF8.self) }
        #expect(values == [#"{"create_request":{"key":"YQ=="}}"#, #"{"a":"}{\"x"}"#, "[1,2]", #"{"p":{}}"#])
        #expect(GatewayStreamMethod.jsonValues(ByteBuffer(string: " \n ")).isEmpty)
    }
}
