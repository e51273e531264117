import NIOCore

/// The frames a client sends, each checked as RFC 9113 asks and handed to its call.
extension GRPCServerConnection {
    typealias ConnectionError = HTTP2Wire.ConnectionError

    func receiveFrame(_ header: HTTP2Wire.FrameHeader, _ payload: ByteBuffer) throws(ConnectionError) {
        try headerBlocks.checkNext(header)
        switch HTTP2Wire.FrameType(rawValue: header.type) {
        case .data: try receiveData(header, payload)
        case .headers: if let block = try headerBlocks.headers(header, payload) { try receiveHeaderBlock(block) }
        case .continuation: if let block = try headerBlocks.continuation(header, payload) { try receiveHeaderBlock(block) }
        case .priority:
            guard header.streamID != 0 else { throw ConnectionError(.protocolError, "PRIORITY on stream 0") }
            guard header.length == 5 else { throw ConnectionError(.frameSizeError, "PRIORITY of \(header.length) bytes") }
            try countControlFrame()
        case .rstStream: try receiveReset(header, payload)
        case .settings: try receiveSettings(header, payload)
        case .ping: try receivePing(header, payload)
        case .goAway:
            // The client stops opening streams; the ones it has go on until it closes.
            guard header.streamID == 0 else { throw ConnectionError(.protocolError, "GOAWAY on a stream") }
        case .windowUpdate: try receiveWindowUpdate(header, payload)
        case .pushPromise: throw ConnectionError(.protocolError, "PUSH_PROMISE from a client")
        case nil: break  // unknown frame types are ignored
        }
    }

    private func receiveData(_ header: HTTP2Wire.FrameHeader, _ payload: ByteBuffer) throws(ConnectionError) {
        guard header.streamID != 0 else { throw ConnectionError(.protocolError, "DATA on stream 0") }
        // Flow control counts the whole payload, padding included, whatever becomes of it.
        guard connectionReceiveWindow.receive(header.length) else {
            throw ConnectionError(.flowControlError, "DATA beyond the connection window")
        }
        if let increment = connectionReceiveWindow.grant() {
            output.writeHTTP2WindowUpdate(streamID: 0, increment: increment)
            outputAppended()
        }
        let endStream = header.has(HTTP2Wire.Flags.endStream)
        if header.length == 0 && !endStream { try countControlFrame() }  // empty DATA floods
        let data = try HTTP2Wire.dataBytes(header, payload)
        guard let call = calls[header.streamID] else {
            guard header.streamID <= lastStreamID else { throw ConnectionError(.protocolError, "DATA on an idle stream") }
            return  // a stream already closed here: ignored
        }
        guard !call.inboundEnded else { return reset(call, .streamClosed) }
        guard call.receiveWindow.receive(header.length) else { return reset(call, .flowControlError) }
        if !endStream, let increment = call.receiveWindow.grant() {
            output.writeHTTP2WindowUpdate(streamID: call.streamID, increment: increment)
            outputAppended()
        }
        call.receiveData(data, endStream: endStream)
    }

    /// A whole header block: a new call's request headers, or an open call's trailers.
    private func receiveHeaderBlock(_ block: HTTP2HeaderBlockReader.Block) throws(ConnectionError) {
        let (streamID, endStream, headers) = (block.streamID, block.endStream, block.headers)
        if let call = calls[streamID] {
            // The client's trailers: they only matter as the end of its stream.
            guard endStream, !call.inboundEnded else { return reset(call, .protocolError) }
            return call.receiveEnd()
        }
        guard streamID > lastStreamID else { return }  // a stream already closed here
        guard streamID % 2 == 1 else { throw ConnectionError(.protocolError, "stream \(streamID) opened by a client") }
        lastStreamID = streamID
        guard calls.count < configuration.concurrentStreamsMax else {
            output.writeHTTP2RstStream(streamID: streamID, code: .refusedStream)
            return outputAppended()
        }
        let call = GRPCServerCall(
            streamID: streamID, connection: self, sendWindow: peerInitialWindow,
            receiveWindow: HTTP2ReceiveWindow(size: configuration.streamWindowBytes))
        register(call)
        call.open(headers, endStream: endStream)
    }

    private func receiveReset(_ header: HTTP2Wire.FrameHeader, _ payload: ByteBuffer) throws(ConnectionError) {
        guard header.streamID != 0 else { throw ConnectionError(.protocolError, "RST_STREAM on stream 0") }
        guard header.length == 4 else { throw ConnectionError(.frameSizeError, "RST_STREAM of \(header.length) bytes") }
        guard header.streamID <= lastStreamID else { throw ConnectionError(.protocolError, "RST_STREAM on an idle stream") }
        try countResetFrame()
        if let call = calls[header.streamID] { remove(call) }
    }

    private func receiveSettings(_ header: HTTP2Wire.FrameHeader, _ payload: ByteBuffer) throws(ConnectionError) {
        guard let settings = try HTTP2Wire.settings(header, payload) else { return }
        try countControlFrame()
        var windowGrew = false
        for (setting, value) in settings {
            switch setting {
            case .headerTableSize: tableSizeUpdatePending = true
            case .initialWindowSize:
                let delta = value - peerInitialWindow
                peerInitialWindow = value
                for call in calls.values {
                    call.sendWindow += delta
                    guard call.sendWindow <= HTTP2Wire.windowMax else {
                        throw ConnectionError(.flowControlError, "a stream window above 2^31-1")
                    }
                }
                windowGrew = windowGrew || delta > 0
            case .maxFrameSize: peerFrameBytesMax = value
            case .enablePush, .maxConcurrentStreams, .maxHeaderListSize: break
            }
        }
        output.writeHTTP2Settings([], ack: true)
        outputAppended()
        if windowGrew { sendBlocked() }
    }

    private func receivePing(_ header: HTTP2Wire.FrameHeader, _ payload: ByteBuffer) throws(ConnectionError) {
        guard header.streamID == 0 else { throw ConnectionError(.protocolError, "PING on a stream") }
        guard header.length == 8 else { throw ConnectionError(.frameSizeError, "PING of \(header.length) bytes") }
        guard !header.has(HTTP2Wire.Flags.ack) else { return }
        try countControlFrame()
        output.writeHTTP2PingAck(payload)
        outputAppended()
    }

    private func receiveWindowUpdate(_ header: HTTP2Wire.FrameHeader, _ payload: ByteBuffer) throws(ConnectionError) {
        let increment = try HTTP2Wire.windowIncrement(header, payload)
        if header.streamID == 0 {
            try HTTP2Wire.grow(connectionWindow: &connectionSendWindow, by: increment)
            return sendBlocked()
        }
        guard let call = calls[header.streamID] else {
            guard header.streamID <= lastStreamID else { throw ConnectionError(.protocolError, "WINDOW_UPDATE on an idle stream") }
            return
        }
        guard increment > 0 else { return reset(call, .protocolError) }
        call.sendWindow += increment
        guard call.sendWindow <= HTTP2Wire.windowMax else { return reset(call, .flowControlError) }
        if call.isBlocked { sendBlocked() }
    }
}
