import KeelAPI
import SwiftProtobuf

/// etcd's watch response fragmentation (v3rpc `sendFragments`), for watchers created with
/// `fragment`: a response of at least `bytesMax` encoded bytes with two or more events is cut
/// into several, each with as many events as keep it under `bytesMax` (at least one), all but
/// the last marked `fragment`. Every piece carries the original's header and flags.
enum WatchFragments {
    static func split(_ response: Etcdserverpb_WatchResponse, bytesMax: Int) -> [Etcdserverpb_WatchResponse] {
        guard response.events.count >= 2 else { return [response] }
        // The encoded size of a response is its fields without events plus, per event, the
        // field tag (1 byte: field 11), the length varint and the event itself.
        var bare = response
        bare.events = []
        let bareBytes = Self.size(bare)
        let eventBytes = response.events.map { event in
            let length = Self.size(event)
            return 1 + Self.varintBytes(length) + length
        }
        guard bareBytes + eventBytes.reduce(0, +) >= bytesMax else { return [response] }
        bare.fragment = true
        let markedBareBytes = Self.size(bare)
        var pieces: [Etcdserverpb_WatchResponse] = []
        var start = 0
        while start < response.events.count {
            var end = start + 1
            var bytes = markedBareBytes + eventBytes[start]
            while end < response.events.count && bytes + eventBytes[end] < bytesMax {
                bytes += eventBytes[end]
                end += 1
            }
            var piece = bare
            piece.events = Array(response.events[start..<end])
            piece.fragment = end < response.events.count
            pieces.append(piece)
            start = end
        }
        precondition(pieces.reduce(0) { $0 + $1.events.count } == response.events.count)
        return pieces
    }

    private static func size(_ message: some Message) -> Int {
        do {
            let bytes: [UInt8] = try message.serializedBytes()
            return bytes.count
        } catch {
            preconditionFailure("a watch message that cannot be encoded: \(error)")
        }
    }

    private static func varintBytes(_ value: Int) -> Int {
        var count = 1
        var rest = UInt64(value) >> 7
        while rest != 0 { count += 1; rest >>= 7 }
        return count
    }
}
