/// How a unary handler answers its call: once, from any thread.
///
/// A closure rather than an `EventLoopPromise`: a promise and its future are two generic
/// objects per call (each allocation looks up the type's metadata), and every layer that
/// watches the outcome adds a callback to a list. A put passed through three such layers; a
/// layer now wraps the reply it was given instead. Answer once: a second answer reaches the
/// call again (which ignores anything after its end), and every observer again.
public struct GRPCReply<Response: Sendable>: Sendable {
    private let complete: @Sendable (Result<Response, any Error>) -> Void

    public init(_ complete: @escaping @Sendable (Result<Response, any Error>) -> Void) {
        self.complete = complete
    }

    public func succeed(_ response: Response) { complete(.success(response)) }

    /// A `GRPCStatus` is answered as itself, any other error as UNKNOWN.
    public func fail(_ error: any Error) { complete(.failure(error)) }

    /// A reply that runs `observe` with the outcome before answering through this one.
    public func observed(_ observe: @escaping @Sendable (Result<Response, any Error>) -> Void) -> GRPCReply<Response> {
        let complete = self.complete
        return GRPCReply { result in
            observe(result)
            complete(result)
        }
    }
}
