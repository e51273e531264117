import NIOCore

/// The pipeline end of a link's connection: writes the hello, waits for the reply, then only
/// watches writability (the link writes raft messages straight to the channel). The listener
/// sends nothing after its reply on a messages stream, so any further frame is a protocol
/// error and closes the connection.
final class PeerClientHandler: ChannelInboundHandler {
    typealias InboundIn = PeerFrame
    typealias OutboundOut = ByteBuffer
    private let link: PeerLink
    private let hello: PeerHello
    private var answered = false

    init(link: PeerLink, hello: PeerHello) {
        self.link = link
        self.hello = hello
    }

    func channelActive(context: ChannelHandlerContext) {
        var buffer = context.channel.allocator.buffer(capacity: 48)
        hello.write(into: &buffer)
        context.writeAndFlush(wrapOutboundOut(buffer), promise: nil)
        link.active(context.channel)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        guard !answered, frame.kind == .helloReply, let reply = try? PeerHelloReply.read(frame.body) else {
            context.fireErrorCaught(PeerFrameError.malformed("unexpected \(frame.kind) frame from the listener"))
            return
        }
        answered = true
        if reply.status == .accepted {
            link.accepted(context.channel)
        } else {
            link.refused(reply)
            context.close(promise: nil)
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        link.writabilityChanged(context.channel)
        context.fireChannelWritabilityChanged()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // Closing is the whole answer: the link sees the close, logs it and reconnects.
        context.close(promise: nil)
    }
}
