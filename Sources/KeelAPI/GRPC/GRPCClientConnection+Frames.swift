import NIOCore
import NIOHPACK

/// Reading the server's frames. A thrown `HTTP2Wire.ConnectionError` ends the connection
/// (GOAWAY with its code); an error of one stream ends only that call.
///
/// Receivers are called last in each step, after the connection's state is consistent: they
/// may start calls, cancel calls or close the connection from inside.
extension GRPCClientConnection {
    typealias Frame = HTTP2Wire.FrameHeader
    typealias ConnectionError = HTTP2Wire.ConnectionError

    func receive(_ header: Frame, _ payload: ByteBuffer) throws(ConnectionError) {
        try headerBlocks.checkNext(header)
        if !receivedSettings {
            guard header.type == HTTP2Wire.FrameType.settings.rawValue, !header.has(HTTP2Wire.Flags.ack) else {
                throw ConnectionError(.protocolError, "the server's first frame is not SETTINGS")
            }
            receivedSettings = true
        }
        switch HTTP2Wire.FrameType(rawValue: header.type) {
        case .data: try receiveData(header, payload)
        case .headers: if let block = try headerBlocks.headers(header, payload) { try receiveHeaderBlock(block) }
        case .continuation: if let block = try headerBlocks.continuation(header, payload) { try receiveHeaderBlock(block) }
        case .rstStream: try receiveRstStream(header, payload)
        case .settings: try receiveSettings(header, payload)
        case .ping: try receivePing(header, payload)
        case .goAway: try receiveGoAway(header, payload)
        case .windowUpdate: try receiveWindowUpdate(header, payload)
        case .pushPromise: throw ConnectionError(.protocolError, "PUSH_PROMISE, with push disabled")
        case .priority, nil: break  // No prioritisation here; unknown types are to be ignored.
        }
    }

    /// A stream we never opened: an even id (push is off) or one above the last we used.
    func isIdle(_ streamID: UInt32) -> Bool {
        streamID % 2 == 0 || streamID >= nextStreamID
    }

    private func receiveData(_ header: Frame, _ payload: ByteBuffer) throws(ConnectionError) {
        guard header.streamID != 0 else { throw ConnectionError(.protocolError, "DATA on stream 0") }
        let data = try HTTP2Wire.dataBytes(header, payload)
        // Padding counts against the windows too (RFC 9113 §6.9.1).
        try consumeConnectionWindow(header.length)
        guard let call = streams[header.streamID] else {
            if isIdle(header.streamID) { throw ConnectionError(.protocolError, "DATA on idle stream \(header.streamID)") }
            return  // A call that ended: the bytes still counted for the connection.
        }
        let endStream = header.has(HTTP2Wire.Flags.endStream)
        guard call.receiveWindow.receive(header.length) else {
            return end(
                call, .finished(GRPCStatus(.unavailable, "stream error: the server overran the flow-control window")),
                notify: .reset(.flowControlError))
        }
        if endStream {
            call.receivedEndStream = true
        } else if let increment = call.receiveWindow.grant() {
            pending.writeHTTP2WindowUpdate(streamID: header.streamID, increment: increment)
            scheduleFlush()
        }
        guard call.sawHeaders else {
            return end(call, .finished(GRPCStatus(.internal, "the response sent DATA before its headers")))
        }
        if data.readableBytes > 0 { call.deframer.append(data) }
        deliverMessages(call)
        if endStream, !call.ended {
            end(call, .finished(GRPCStatus(.internal, "the response ended without trailers")))
        }
    }

    /// Counts inbound DATA against the connection's window and grants it back once half of it
    /// is used.
    private func consumeConnectionWindow(_ bytes: Int) throws(ConnectionError) {
        guard connectionReceiveWindow.receive(bytes) else {
            throw ConnectionError(.flowControlError, "the server overran the connection's flow-control window")
        }
        if let increment = connectionReceiveWindow.grant() {
            pending.writeHTTP2WindowUpdate(streamID: 0, increment: increment)
            scheduleFlush()
        }
    }

    /// Hands out the whole messages the call's deframer holds, until it ends.
    private func deliverMessages(_ call: GRPCClientCall) {
        while !call.ended {
            let message: ByteBuffer?
            do { message = try call.deframer.next() } catch { return end(call, .finished(error)) }
            guard let message else { return }
            do { try call.receive(message: message) } catch { return end(call, .failed(error)) }
        }
    }

    /// Gives a whole header block to its call, if the call is still running.
    private func receiveHeaderBlock(_ block: HTTP2HeaderBlockReader.Block) throws(ConnectionError) {
        let (streamID, endStream, headers) = (block.streamID, block.endStream, block.headers)
        guard let call = streams[streamID] else {
            if isIdle(streamID) { throw ConnectionError(.protocolError, "HEADERS on idle stream \(streamID)") }
            return
        }
        receiveResponseHeaders(call, headers, endStream: endStream)
    }

    /// The response's headers, or its trailers (the second block, or a first one that ends
    /// the stream: a "trailers-only" response) with the call's status.
    private func receiveResponseHeaders(_ call: GRPCClientCall, _ headers: HPACKHeaders, endStream: Bool) {
        if endStream { call.receivedEndStream = true }
        if !call.sawHeaders {
            call.sawHeaders = true
            let httpStatus = headers.first(name: ":status") ?? ""
            guard httpStatus == "200" else {
                let code = GRPCClientCall.code(httpStatus: httpStatus)
                return end(call, .finished(GRPCStatus(code, "HTTP status \(httpStatus)")))
            }
            if !endStream { return }
        }
        if call.deframer.hasPartialMessage {
            return end(call, .finished(GRPCStatus(.internal, "the response ended inside a message")))
        }
        let status = GRPCStatus(
            statusField: headers.first(name: GRPCHeaders.status), messageField: headers.first(name: GRPCHeaders.message))
        // Trailers without END_STREAM: the call is over all the same, and its stream is reset.
        end(call, .finished(status))
    }

    private func receiveRstStream(_ header: Frame, _ payload: ByteBuffer) throws(ConnectionError) {
        guard header.streamID != 0 else { throw ConnectionError(.protocolError, "RST_STREAM on stream 0") }
        guard header.length == 4 else { throw ConnectionError(.frameSizeError, "RST_STREAM of \(header.length) bytes") }
        var payload = payload
        let code = payload.readInteger(as: UInt32.self)!
        guard let call = streams[header.streamID] else {
            if isIdle(header.streamID) { throw ConnectionError(.protocolError, "RST_STREAM on idle stream \(header.streamID)") }
            return
        }
        let status = GRPCStatus(.unavailable, "stream error: the server reset the stream (\(HTTP2Wire.name(of: code)))")
        end(call, .finished(status), notify: .nothing)
    }

    private func receivePing(_ header: Frame, _ payload: ByteBuffer) throws(ConnectionError) {
        guard header.streamID == 0 else { throw ConnectionError(.protocolError, "PING on stream \(header.streamID)") }
        guard header.length == 8 else { throw ConnectionError(.frameSizeError, "PING of \(header.length) bytes") }
        guard !header.has(HTTP2Wire.Flags.ack) else { return }
        pending.writeHTTP2PingAck(payload)
        scheduleFlush()
    }

    private func receiveGoAway(_ header: Frame, _ payload: ByteBuffer) throws(ConnectionError) {
        guard header.streamID == 0 else { throw ConnectionError(.protocolError, "GOAWAY on stream \(header.streamID)") }
        guard header.length >= 8 else { throw ConnectionError(.frameSizeError, "GOAWAY of \(header.length) bytes") }
        var payload = payload
        let lastStreamID = payload.readInteger(as: UInt32.self)! & 0x7fff_ffff
        let code = payload.readInteger(as: UInt32.self)!
        let debug = payload.readString(length: min(payload.readableBytes, 256)) ?? ""
        goAway(lastStreamID: lastStreamID, reason: "GOAWAY (\(HTTP2Wire.name(of: code))\(debug.isEmpty ? "" : ": " + debug))")
    }

    private func receiveWindowUpdate(_ header: Frame, _ payload: ByteBuffer) throws(ConnectionError) {
        let increment = try HTTP2Wire.windowIncrement(header, payload)
        guard header.streamID != 0 else {
            try HTTP2Wire.grow(connectionWindow: &connectionSendWindow, by: increment)
            return resumeCallsWaitingForConnectionWindow()
        }
        guard let call = streams[header.streamID] else {
            if isIdle(header.streamID) {
                throw ConnectionError(.protocolError, "WINDOW_UPDATE on idle stream \(header.streamID)")
            }
            return
        }
        guard increment > 0 else {
            return end(call, .finished(GRPCStatus(.unavailable, "stream error: WINDOW_UPDATE of 0")),
                       notify: .reset(.protocolError))
        }
        call.sendWindow += increment
        guard call.sendWindow <= HTTP2Wire.windowMax else {
            return end(call, .finished(GRPCStatus(.unavailable, "stream error: send window above 2^31-1")),
                       notify: .reset(.flowControlError))
        }
        sendQueued(call)
    }
}
