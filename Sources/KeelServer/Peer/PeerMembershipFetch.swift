import KeelAPI
import NIOCore
import NIOPosix
import SwiftProtobuf

// MARK: - Membership fetch (hello stream 3, frame kind 7)
//
// A member joining a running cluster (--initial-cluster-state existing, empty data) knows
// only the peer URLs of --initial-cluster; it needs the cluster id and every member's id,
// which it cannot derive (an added member's id includes the time of the addition). As etcd's
// joiner reads GET /members from a peer, it opens a connection with a hello of stream 3
// (cluster id, from and to all 0: it is nobody yet), which any member accepts; the listener
// answers with its hello reply, then one membership frame, and closes.
//
//   membership:  0           8         12       16
//                +-----------+---------+--------+----------------+--------+-------
//                | clusterID | count   | len₀   | member₀        | len₁   | ...
//                | u64       | u32     | u32    | protobuf bytes | u32    |
//                +-----------+---------+--------+----------------+--------+-------
//                member = etcdserverpb.Member

/// The cluster as one member told a joiner.
struct FetchedMembership: Sendable {
    var clusterID: UInt64
    var members: [Etcdserverpb_Member]

    func write(into buffer: inout ByteBuffer) {
        try! PeerFrameCodec.write(.membership, into: &buffer, frameBytesMax: .max) { body in
            body.writeInteger(clusterID, endianness: .little)
            body.writeInteger(UInt32(members.count), endianness: .little)
            for member in members {
                let bytes: [UInt8] = try! member.serializedBytes()
                body.writeInteger(UInt32(bytes.count), endianness: .little)
                body.writeBytes(bytes)
            }
        }
    }

    static func read(_ body: ByteBuffer) throws(PeerFrameError) -> FetchedMembership {
        var reader = BodyReader(buffer: body)
        let clusterID = try reader.u64()
        let count = try reader.u32()
        var members: [Etcdserverpb_Member] = []
        for _ in 0..<count {
            let bytes = try reader.bytes(Int(try reader.u32()), "member")
            guard let member = try? Etcdserverpb_Member(serializedBytes: bytes) else { throw .malformed("a member does not decode") }
            members.append(member)
        }
        guard reader.remaining == 0 else { throw .malformed("bytes after the membership") }
        return FetchedMembership(clusterID: clusterID, members: members)
    }

    /// Asks the member listening at `address` for the cluster's membership.
    static func fetch(from address: PeerAddress, group: any EventLoopGroup, timeoutMilliseconds: Int64) -> EventLoopFuture<FetchedMembership> {
        let eventLoop = group.next()
        let promise = eventLoop.makePromise(of: FetchedMembership.self)
        ClientBootstrap(group: eventLoop)
            .connectTimeout(.milliseconds(timeoutMilliseconds))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        ByteToMessageHandler(PeerFrameDecoder(frameBytesMax: PeerFrameCodec.frameBytesMaxDefault)))
                    try channel.pipeline.syncOperations.addHandler(MembershipFetchHandler(promise: promise))
                }
            }
            .connect(host: address.host, port: address.port)
            .whenComplete { result in
                switch result {
                case .failure(let error): promise.fail(error)
                case .success(let channel):
                    let timeout = eventLoop.scheduleTask(in: .milliseconds(timeoutMilliseconds)) {
                        promise.fail(PeerFrameError.malformed("no membership from \(address) in time"))
                    }
                    promise.futureResult.whenComplete { _ in
                        timeout.cancel()
                        channel.close(promise: nil)
                    }
                }
            }
        return promise.futureResult
    }
}

/// The joiner's end of a membership fetch: hello out; reply, then the membership, in.
private final class MembershipFetchHandler: ChannelInboundHandler {
    typealias InboundIn = PeerFrame
    typealias OutboundOut = ByteBuffer
    private let promise: EventLoopPromise<FetchedMembership>
    private var accepted = false

    init(promise: EventLoopPromise<FetchedMembership>) { self.promise = promise }

    func channelActive(context: ChannelHandlerContext) {
        var buffer = context.channel.allocator.buffer(capacity: 48)
        PeerHello(clusterID: 0, from: .none, to: .none, stream: .membership).write(into: &buffer)
        context.writeAndFlush(wrapOutboundOut(buffer), promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        do throws(PeerFrameError) {
            switch (accepted, frame.kind) {
            case (false, .helloReply):
                let reply = try PeerHelloReply.read(frame.body)
                guard reply.status == .accepted else { throw .malformed("membership fetch refused: \(reply.reason)") }
                accepted = true
            case (true, .membership):
                promise.succeed(try FetchedMembership.read(frame.body))
            default:
                throw .malformed("unexpected \(frame.kind) frame in a membership fetch")
            }
        } catch {
            promise.fail(error)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        promise.fail(PeerFrameError.malformed("the member closed the membership fetch"))
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        promise.fail(error)
        context.close(promise: nil)
    }
}
