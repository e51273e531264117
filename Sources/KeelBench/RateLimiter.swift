/// Paces requests to `requestsPerSecond` over all clients together, as a schedule rather than
/// a token bucket: request `number` (0, 1, 2, ... in the order clients take numbers) is due
/// `number / requestsPerSecond` seconds after the run started. A client that takes a number
/// before its time waits until then; one that is late sends at once, so a stall is followed by
/// a catch-up burst, and the average over the run stays at the rate.
///
/// Latency is measured from the actual send, not from the due time: with a server slower
/// than the rate, queueing in front of the client does not show in the percentiles
/// (coordinated omission), which is what etcd's benchmark reports too.
struct RateLimiter: Sendable {
    let requestsPerSecond: Int

    init(requestsPerSecond: Int) {
        precondition(requestsPerSecond > 0, "a rate limiter needs a positive rate")
        self.requestsPerSecond = requestsPerSecond
    }

    /// Nanoseconds after the run's start at which request `number` may be sent. Exact in
    /// integers (no drift over long runs): number × 10⁹ / rate, rounded down.
    func dueOffsetNanoseconds(request number: Int) -> UInt64 {
        precondition(number >= 0)
        let (high, low) = UInt64(number).multipliedFullWidth(by: 1_000_000_000)
        let (quotient, _) = UInt64(requestsPerSecond).dividingFullWidth((high, low))
        return quotient
    }

    /// How long a client that took `number` at `nowOffsetNanoseconds` (since the run's start)
    /// waits before sending: zero when it is already due.
    func delayNanoseconds(request number: Int, nowOffsetNanoseconds: UInt64) -> UInt64 {
        let due = dueOffsetNanoseconds(request: number)
        return due > nowOffsetNanoseconds ? due - nowOffsetNanoseconds : 0
    }
}
