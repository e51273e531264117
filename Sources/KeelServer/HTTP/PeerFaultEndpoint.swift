import KeelAPI
import KeelRaft
import NIOCore
import NIOHTTP1

/// Keel's partition switch over HTTP, for tests of real processes (served only under
/// `--experimental-peer-fault-injection`; without it these paths are unknown, 404):
///
/// - `POST /debug/peers/partition?members=<id>[,<id>...]`: from now on this member drops every
///   message, snapshot and request to or from those members (ids in hex, as `member list`
///   prints them), as a network partition would. Replaces an earlier set. Answers 200 with
///   `{"partitioned":["<id>",...]}`; an id that is not a peer of this member is 400.
/// - `POST /debug/peers/heal`: traffic flows again. Answers 200 with `{"partitioned":[]}`.
///
/// A partition of a cluster is made by flipping the switch on both sides of the cut.
struct PeerFaultEndpoint: Sendable {
    let transport: PeerTransport

    func respond(path: String, query: Substring, method: HTTPMethod) -> HTTP1Response? {
        switch path {
        case "/debug/peers/partition":
            guard method == .POST else { return GatewayError.plainText(.methodNotAllowed, "Method Not Allowed", headers: ["allow": "POST"]) }
            switch Self.members(in: query, peers: Set(transport.peers)) {
            case .success(let members):
                transport.partition(from: members)
                return answer(members)
            case .failure(let problem):
                return GatewayError.plainText(.badRequest, problem.message)
            }
        case "/debug/peers/heal":
            guard method == .POST else { return GatewayError.plainText(.methodNotAllowed, "Method Not Allowed", headers: ["allow": "POST"]) }
            transport.heal()
            return answer([])
        default:
            return nil
        }
    }

    struct Problem: Error { let message: String }

    /// The members named by `members=` in `query`: hex ids, comma-separated, each a peer.
    static func members(in query: Substring, peers: Set<NodeID>) -> Result<Set<NodeID>, Problem> {
        guard let field = query.split(separator: "&").first(where: { $0.hasPrefix("members=") }) else {
            return .failure(Problem(message: "missing members=<id>[,<id>...]"))
        }
        var members: Set<NodeID> = []
        for text in field.dropFirst("members=".count).split(separator: ",", omittingEmptySubsequences: false) {
            guard let raw = UInt64(text, radix: 16), peers.contains(NodeID(raw)) else {
                return .failure(Problem(message: "\(text) is not the hex id of a peer of this member"))
            }
            members.insert(NodeID(raw))
        }
        return .success(members)
    }

    private func answer(_ members: Set<NodeID>) -> HTTP1Response {
        let ids = members.map { "\"" + String($0.rawValue, radix: 16) + "\"" }.sorted().joined(separator: ",")
        return HTTP1Response(status: .ok, headers: ["content-type": "application/json"],
                             body: ByteBuffer(string: "{\"partitioned\":[\(ids)]}"))
    }
}
