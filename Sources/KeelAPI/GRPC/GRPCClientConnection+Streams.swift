import NIOCore

/// Calls and their streams: opening (or waiting under MAX_CONCURRENT_STREAMS), request headers,
/// DATA within the flow-control windows, and ending.
extension GRPCClientConnection {
    /// What the server is told about the stream of a call that ends.
    enum StreamNotice {
        /// RST_STREAM(CANCEL) if the server has not ended the stream; if it has and we have
        /// not, an empty DATA with END_STREAM (so the server can let go of the stream without
        /// a reset counted against us).
        case automatic
        /// Nothing: the stream is gone already (reset by the server, above a GOAWAY, or the
        /// connection is lost).
        case nothing
        case reset(HTTP2Wire.ErrorCode)
    }

    /// Starts a call: opens its stream now, or queues it while the server's stream limit is
    /// reached (or the connection is not up yet). Fails it at once when the connection cannot
    /// take new streams.
    func startCall(_ call: GRPCClientCall) {
        context?.eventLoop.assertInEventLoop()
        let refusal: String? =
            switch state {
            case .idle: nil
            case .closed: "the connection is closed"
            case .open where goAwayLastStreamID != nil: "the server is going away (GOAWAY)"
            case .open where nextStreamID > UInt32(HTTP2Wire.windowMax): "the connection used up its stream ids"
            case .open: nil
            }
        if let refusal {
            return end(call, .failed(GRPCStatus(.unavailable, "cannot open a stream: \(refusal)")), notify: .nothing)
        }
        if state == .idle || streams.count >= peerConcurrentStreamsMax || !waitingForStream.isEmpty {
            // Behind the calls already waiting, in order.
            waitingForStream.append(call)
            openWaitingCalls()
        } else {
            open(call)
        }
    }

    /// Gives a call the next stream id and writes its request headers, then whatever of its
    /// request the windows allow.
    private func open(_ call: GRPCClientCall) {
        let streamID = nextStreamID
        nextStreamID += 2
        call.streamID = streamID
        call.sendWindow = peerInitialWindowBytes
        call.receiveWindow = HTTP2ReceiveWindow(size: configuration.streamWindowBytes)
        streams[streamID] = call
        writeRequestHeaders(call)
        if let body = call.unaryRequest {
            call.unaryRequest = nil
            send(body, on: call, endStream: true, promise: nil)
        } else {
            sendQueued(call)
        }
        scheduleFlush()
    }

    /// Opens waiting calls while the server's stream limit allows.
    func openWaitingCalls() {
        while state == .open, goAwayLastStreamID == nil, nextStreamID <= UInt32(HTTP2Wire.windowMax),
            streams.count < peerConcurrentStreamsMax, let call = waitingForStream.popFirst()
        {
            if !call.ended { open(call) }
        }
    }

    /// The request's HEADERS, written straight into the pending bytes: the shared fields, the
    /// path and the timeout. A block above the server's frame size (a very long path) is moved
    /// into HEADERS and CONTINUATION frames.
    private func writeRequestHeaders(_ call: GRPCClientCall) {
        let frameStart = pending.writerIndex
        pending.writeHTTP2FrameHeader(length: 0, type: .headers, flags: HTTP2Wire.Flags.endHeaders, streamID: call.streamID)
        let blockStart = pending.writerIndex
        if tableSizeUpdateDue {
            tableSizeUpdateDue = false
            pending.writeInteger(HTTP2HeaderBlock.tableSizeZero)
        }
        pending.writeBytes(headerBlockHead)
        HTTP2HeaderBlock.writeLiteral(nameIndex: HTTP2HeaderBlock.Static.path, value: call.path.utf8, into: &pending)
        pending.writeBytes(headerBlockTail)
        if let timeout = call.timeout {
            HTTP2HeaderBlock.writeLiteral(
                name: GRPCHeaders.timeout.utf8, value: GRPCTimeout.format(timeout).utf8, into: &pending)
        }
        let blockBytes = pending.writerIndex - blockStart
        if blockBytes <= peerMaxFrameBytes {
            pending.setInteger(UInt16(truncatingIfNeeded: blockBytes >> 8), at: frameStart)
            pending.setInteger(UInt8(truncatingIfNeeded: blockBytes), at: frameStart + 2)
        } else {
            let block = pending.getSlice(at: blockStart, length: blockBytes)!
            pending.moveWriterIndex(to: frameStart)
            pending.writeHTTP2Headers(
                streamID: call.streamID, block: block, endStream: false, frameBytesMax: peerMaxFrameBytes)
        }
    }

    /// Sends one request message (`endStream`: the last one). Written at once when nothing of
    /// the call waits before it and the windows allow; queued otherwise. `promise` completes
    /// when the message was written to the socket.
    func send(_ body: [UInt8], on call: GRPCClientCall, endStream: Bool, promise: EventLoopPromise<Void>?) {
        context?.eventLoop.assertInEventLoop()
        guard !call.ended else {
            promise?.fail(GRPCStatus(.unavailable, "the call has ended"))
            return
        }
        guard !call.finishing else {
            promise?.fail(GRPCStatus(.internal, "a message sent after the call's finish"))
            return
        }
        call.finishing = endStream
        let framedBytes = GRPCMessageDeframer.prefixBytes + body.count
        if call.streamID != 0, call.outbound.isEmpty,
            framedBytes <= min(call.sendWindow, connectionSendWindow, peerMaxFrameBytes)
        {
            // The common case: one DATA frame, the message copied once, into the pending bytes.
            let flags = endStream ? HTTP2Wire.Flags.endStream : 0
            pending.writeHTTP2FrameHeader(length: framedBytes, type: .data, flags: flags, streamID: call.streamID)
            pending.writeInteger(UInt8(0))
            pending.writeInteger(UInt32(body.count))
            pending.writeBytes(body)
            call.sendWindow -= framedBytes
            connectionSendWindow -= framedBytes
            call.sentEndStream = endStream
            if let promise { flushPromises.append(promise) }
            return scheduleFlush()
        }
        let allocator = context?.channel.allocator ?? ByteBufferAllocator()
        call.outbound.append(.init(bytes: GRPCMessageFramer.frame(body, allocator: allocator), endStream: endStream, promise: promise))
        sendQueued(call)
    }

    /// Half-closes the call: END_STREAM after the messages already sent.
    func finish(_ call: GRPCClientCall) {
        context?.eventLoop.assertInEventLoop()
        guard !call.ended, !call.finishing else { return }
        call.finishing = true
        call.outbound.append(.init(bytes: ByteBuffer(), endStream: true, promise: nil))
        sendQueued(call)
    }

    /// Ends the call here: RST_STREAM(CANCEL) if it has a stream.
    func cancel(_ call: GRPCClientCall) {
        context?.eventLoop.assertInEventLoop()
        guard !call.ended else { return }
        end(call, .finished(GRPCStatus(.unavailable, "the call was cancelled")), notify: .reset(.cancel))
    }

    /// Writes as much of the call's queued request as the stream's and the connection's
    /// windows allow, in frames of at most the server's frame size. A call stopped by the
    /// connection's window joins the line for it.
    func sendQueued(_ call: GRPCClientCall) {
        guard call.streamID != 0, !call.ended else { return }
        var wrote = false
        while var chunk = call.outbound.first {
            let window = max(min(call.sendWindow, connectionSendWindow), 0)
            let length = min(chunk.bytes.readableBytes, window, peerMaxFrameBytes)
            if length == 0, chunk.bytes.readableBytes > 0 {
                if call.sendWindow > 0, !call.waitsForConnectionWindow {
                    call.waitsForConnectionWindow = true
                    waitingForConnectionWindow.append(call)
                }
                break
            }
            let piece = chunk.bytes.readSlice(length: length)!
            let last = chunk.bytes.readableBytes == 0
            pending.writeHTTP2Data(streamID: call.streamID, bytes: piece, endStream: last && chunk.endStream)
            call.sendWindow -= length
            connectionSendWindow -= length
            wrote = true
            if last {
                call.outbound.removeFirst()
                if let promise = chunk.promise { flushPromises.append(promise) }
                if chunk.endStream { call.sentEndStream = true }
            } else {
                call.outbound[0] = chunk
            }
        }
        if wrote { scheduleFlush() }
    }

    /// The connection's window grew: the calls waiting for it send, in the order they waited.
    func resumeCallsWaitingForConnectionWindow() {
        let waiting = waitingForConnectionWindow
        waitingForConnectionWindow = []
        for call in waiting {
            call.waitsForConnectionWindow = false
            sendQueued(call)
        }
    }

    /// The server's GOAWAY: calls on streams above `lastStreamID` were not processed and fail;
    /// calls waiting for a stream fail; the others run to their end, then the connection
    /// closes.
    func goAway(lastStreamID: UInt32, reason: String) {
        goAwayLastStreamID = min(goAwayLastStreamID ?? lastStreamID, lastStreamID)
        var waiting: [GRPCClientCall] = []
        while let call = waitingForStream.popFirst() { waiting.append(call) }
        let unprocessed = streams.keys.filter { $0 > lastStreamID }.sorted()
        for call in waiting {
            end(call, .failed(GRPCStatus(.unavailable, "cannot open a stream: the server sent \(reason)")), notify: .nothing)
        }
        for streamID in unprocessed {
            guard let call = streams[streamID] else { continue }
            let status = GRPCStatus(.unavailable, "the server sent \(reason); the call was not processed")
            end(call, .finished(status), notify: .nothing)
        }
        closeIfGoneAway()
    }

    private func closeIfGoneAway() {
        guard state == .open, goAwayLastStreamID != nil, streams.isEmpty else { return }
        flushNow()  // The last stream's end of stream or reset.
        context?.close(promise: nil)
    }

    /// Ends a call once: lets go of its stream (telling the server per `notify`), fails the
    /// sends still queued, opens a waiting call in its place, then reports to the receiver.
    func end(_ call: GRPCClientCall, _ ending: GRPCClientCall.Ending, notify: StreamNotice = .automatic) {
        guard !call.ended else { return }
        call.ended = true
        if call.streamID != 0, streams.removeValue(forKey: call.streamID) != nil {
            switch notify {
            case .nothing:
                break
            case .reset(let code):
                pending.writeHTTP2RstStream(streamID: call.streamID, code: code)
            case .automatic where !call.receivedEndStream:
                pending.writeHTTP2RstStream(streamID: call.streamID, code: .cancel)
            case .automatic:
                if !call.sentEndStream {
                    pending.writeHTTP2Data(streamID: call.streamID, bytes: ByteBuffer(), endStream: true)
                }
            }
            scheduleFlush()
        }
        switch ending {
        case .finished(let status) where status.code != .ok, .failed(let status):
            call.dropOutbound(status)
        case .finished:
            call.dropOutbound(GRPCStatus(.unavailable, "the call ended before the message was sent"))
        }
        openWaitingCalls()
        closeIfGoneAway()
        call.report(ending)
    }
}
