import NIOCore

/// What calls send: response headers, messages as DATA within the flow-control windows, and
/// trailers, which wait behind any DATA still queued on their stream.
extension GRPCServerConnection {
    /// ":status: 200" and "content-type: application/grpc".
    static let responseHeadersBlock: ByteBuffer = {
        var block = ByteBuffer()
        HTTP2HeaderBlock.writeIndexed(HTTP2HeaderBlock.Static.status200, into: &block)
        HTTP2HeaderBlock.writeLiteral(
            nameIndex: HTTP2HeaderBlock.Static.contentType, value: GRPCHeaders.contentType.utf8, into: &block)
        return block
    }()

    /// "grpc-status: 0", the trailers of every call that succeeds.
    static let okTrailersBlock: ByteBuffer = {
        var block = ByteBuffer()
        HTTP2HeaderBlock.writeLiteral(name: GRPCHeaders.status.utf8, value: "0".utf8, into: &block)
        return block
    }()

    /// The trailers carrying `status`; `trailersOnly` when no response headers went before
    /// them (they then open the response too).
    static func trailers(_ status: GRPCStatus, trailersOnly: Bool) -> ByteBuffer {
        if status.code == .ok && status.message.isEmpty && !trailersOnly { return okTrailersBlock }
        var block = trailersOnly ? responseHeadersBlock : ByteBuffer()
        HTTP2HeaderBlock.writeLiteral(name: GRPCHeaders.status.utf8, value: String(status.code.rawValue).utf8, into: &block)
        if !status.message.isEmpty {
            HTTP2HeaderBlock.writeLiteral(
                name: GRPCHeaders.message.utf8, value: GRPCStatus.percentEncoded(status.message).utf8, into: &block)
        }
        return block
    }

    func writeResponseHeaders(_ call: GRPCServerCall) {
        writeHeaderBlock(Self.responseHeadersBlock, streamID: call.streamID, endStream: false)
    }

    /// One message on `call`'s stream: straight into the output when the windows allow and
    /// nothing waits before it, else queued until WINDOW_UPDATEs open them.
    func writeMessage(_ bytes: [UInt8], on call: GRPCServerCall, promise: EventLoopPromise<Void>?) {
        let framedBytes = GRPCMessageDeframer.prefixBytes + bytes.count
        if call.queued.isEmpty, framedBytes <= peerFrameBytesMax,
            framedBytes <= call.sendWindow, framedBytes <= connectionSendWindow
        {
            output.writeHTTP2FrameHeader(length: framedBytes, type: .data, flags: 0, streamID: call.streamID)
            output.writeInteger(UInt8(0))
            output.writeInteger(UInt32(bytes.count))
            output.writeBytes(bytes)
            call.sendWindow -= framedBytes
            connectionSendWindow -= framedBytes
            if let promise { outputPromises.append(promise) }
            return outputAppended()
        }
        call.queued.append((GRPCMessageFramer.frame(bytes, allocator: allocator), promise))
        call.queuedBytes += framedBytes
        sendQueued(call)
        if !call.queued.isEmpty, !call.isBlocked {
            call.isBlocked = true
            blocked.append(call)
        }
        updateWritability(call)
    }

    /// The call's trailers: now, or after the DATA queued before them.
    func writeTrailers(_ block: ByteBuffer, on call: GRPCServerCall) {
        guard call.queued.isEmpty else {
            call.queuedTrailers = block
            return
        }
        writeHeaderBlock(block, streamID: call.streamID, endStream: true)
        trailersWritten(call)
    }

    /// The stream's END_STREAM went out. A client still sending is told to stop with
    /// RST_STREAM(NO_ERROR), as gRPC servers do; either way the stream is done.
    private func trailersWritten(_ call: GRPCServerCall) {
        if !call.inboundEnded {
            output.writeHTTP2RstStream(streamID: call.streamID, code: .noError)
            outputAppended()
        }
        remove(call)
    }

    private func writeHeaderBlock(_ block: ByteBuffer, streamID: UInt32, endStream: Bool) {
        var block = block
        if tableSizeUpdatePending {
            tableSizeUpdatePending = false
            var prefixed = allocator.buffer(capacity: block.readableBytes + 1)
            prefixed.writeInteger(HTTP2HeaderBlock.tableSizeZero)
            prefixed.writeBuffer(&block)
            block = prefixed
        }
        output.writeHTTP2Headers(streamID: streamID, block: block, endStream: endStream, frameBytesMax: peerFrameBytesMax)
        outputAppended()
    }

    /// Sends as much of `call`'s queued DATA as the windows allow, then its trailers if they
    /// were waiting and nothing is left before them.
    func sendQueued(_ call: GRPCServerCall) {
        while !call.queued.isEmpty {
            let allowed = Swift.min(call.sendWindow, connectionSendWindow, peerFrameBytesMax)
            guard allowed > 0 else { break }
            var first = call.queued[0]
            let length = Swift.min(allowed, first.bytes.readableBytes)
            let piece = first.bytes.readSlice(length: length)!
            output.writeHTTP2Data(streamID: call.streamID, bytes: piece, endStream: false)
            call.sendWindow -= length
            connectionSendWindow -= length
            call.queuedBytes -= length
            if first.bytes.readableBytes == 0 {
                call.queued.removeFirst()
                if let promise = first.promise { outputPromises.append(promise) }
            } else {
                call.queued[0] = first
            }
        }
        outputAppended()
        if call.queued.isEmpty, let trailers = call.queuedTrailers {
            call.queuedTrailers = nil
            writeHeaderBlock(trailers, streamID: call.streamID, endStream: true)
            trailersWritten(call)
        }
    }

    /// A window opened: the blocked streams send, in the order they blocked.
    func sendBlocked() {
        var index = 0
        while index < blocked.count, connectionSendWindow > 0 {
            let call = blocked[index]
            sendQueued(call)
            if call.queued.isEmpty {
                call.isBlocked = false
                if index < blocked.count, blocked[index] === call { blocked.remove(at: index) }
                updateWritability(call)
            } else {
                index += 1
            }
        }
    }

    /// Recomputes whether `call` may take more: little queued for it, and a socket that keeps up.
    func updateWritability(_ call: GRPCServerCall) {
        let writable = call.queuedBytes < configuration.streamOutboundHighWatermarkBytes && channelWritable
        guard call.writableFlag.load(ordering: .relaxed) != writable else { return }
        call.writableFlag.store(writable, ordering: .relaxed)
        guard call.writabilityCallback != nil else { return }
        // Not from inside the sender's own `send` (that would re-enter its send loop): on a
        // later turn, with the writability of that moment.
        eventLoop.assumeIsolatedUnsafeUnchecked().execute {
            call.writabilityCallback?(call.writableFlag.load(ordering: .relaxed))
        }
    }
}
