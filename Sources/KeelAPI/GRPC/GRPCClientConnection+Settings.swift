import NIOCore

/// The server's SETTINGS (RFC 9113 §6.5): applied in order, then acknowledged.
extension GRPCClientConnection {
    func receiveSettings(_ header: HTTP2Wire.FrameHeader, _ payload: ByteBuffer) throws(HTTP2Wire.ConnectionError) {
        typealias ConnectionError = HTTP2Wire.ConnectionError
        guard let settings = try HTTP2Wire.settings(header, payload) else { return }
        let concurrentStreamsBefore = peerConcurrentStreamsMax
        var windowDelta = 0
        for (setting, value) in settings {
            switch setting {
            case .headerTableSize:
                // Our blocks never use the table; a changed size only asks that the next
                // block say so (RFC 7541 §4.2).
                if value != peerHeaderTableBytes { tableSizeUpdateDue = true }
                peerHeaderTableBytes = value
            case .enablePush:
                guard value == 0 else { throw ConnectionError(.protocolError, "a server's SETTINGS_ENABLE_PUSH of \(value)") }
            case .maxConcurrentStreams:
                peerConcurrentStreamsMax = value
            case .initialWindowSize:
                windowDelta += value - peerInitialWindowBytes
                peerInitialWindowBytes = value
            case .maxFrameSize:
                peerMaxFrameBytes = value
            case .maxHeaderListSize:
                break  // Our request headers are far below any sane limit.
            }
        }
        pending.writeHTTP2Settings([], ack: true)
        scheduleFlush()
        if windowDelta != 0 { try applyInitialWindowDelta(windowDelta) }
        if peerConcurrentStreamsMax > concurrentStreamsBefore { openWaitingCalls() }
    }

    /// A changed SETTINGS_INITIAL_WINDOW_SIZE moves every open stream's send window by the
    /// difference (RFC 9113 §6.9.2): it may go negative, or let queued DATA go.
    private func applyInitialWindowDelta(_ delta: Int) throws(HTTP2Wire.ConnectionError) {
        let open = streams.keys.sorted().map { streams[$0]! }
        for call in open {
            call.sendWindow += delta
            guard call.sendWindow <= HTTP2Wire.windowMax else {
                throw HTTP2Wire.ConnectionError(.flowControlError, "a stream's send window above 2^31-1")
            }
        }
        if delta > 0 {
            for call in open { sendQueued(call) }
        }
    }
}
