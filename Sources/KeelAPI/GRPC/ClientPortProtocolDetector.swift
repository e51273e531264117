import NIOCore

/// Tells HTTP/2 with prior knowledge from HTTP/1.1 on the first bytes of a connection, builds
/// the matching pipeline after itself, replays the bytes it held and leaves the pipeline.
///
/// An HTTP/2 client opens with the 24-byte preface "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"; no
/// HTTP/1.1 request line starts with it. The decision is taken at the first byte that differs
/// from the preface (for "POST"/"PUT", the second byte), so neither side waits.
final class ClientPortProtocolDetector: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private let configureHTTP2: (any Channel) throws -> Void
    private let configureHTTP1: (any Channel) throws -> Void
    private var held: ByteBuffer?

    init(
        configureHTTP2: @escaping (any Channel) throws -> Void,
        configureHTTP1: @escaping (any Channel) throws -> Void
    ) {
        self.configureHTTP2 = configureHTTP2
        self.configureHTTP1 = configureHTTP1
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        if var held = self.held {
            held.writeBuffer(&bytes)
            self.held = held
        } else {
            self.held = bytes
        }
        guard let held, let isHTTP2 = Self.classify(held) else { return }
        self.held = nil
        do {
            try (isHTTP2 ? configureHTTP2 : configureHTTP1)(context.channel)
        } catch {
            context.fireErrorCaught(error)
            context.close(promise: nil)
            return
        }
        context.fireChannelRead(wrapInboundOut(held))
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }

    /// true: the HTTP/2 preface; false: something else; nil: too few bytes to tell yet.
    static func classify(_ bytes: ByteBuffer) -> Bool? {
        let view = bytes.readableBytesView
        let preface = HTTP2Wire.preface
        for (offset, byte) in view.prefix(preface.count).enumerated() where byte != preface[offset] {
            return false
        }
        return view.count >= preface.count ? true : nil
    }
}
