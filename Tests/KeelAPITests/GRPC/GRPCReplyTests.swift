import KeelAPI
import Synchronization
import Testing

/// A unary handler's reply, as `ServiceRoutes` wraps it to count each call's outcome.
@Suite struct GRPCReplyTests {
    @Test func anObservedReplyShowsEachOutcomeToItsObserverBeforeTheCall() {
        let heard = Mutex<[String]>([])
        let call = GRPCReply<String> { result in
            heard.withLock { $0.append("call \(Self.describe(result))") }
        }
        let counted = call.observed { result in
            heard.withLock { $0.append("observer \(Self.describe(result))") }
        }
        counted.succeed("ok")
        counted.fail(GRPCStatus(.notFound, "gone"))
        #expect(heard.withLock { $0 } == ["observer ok", "call ok", "observer notFound", "call notFound"])
    }

    private static func describe(_ result: Result<String, any Error>) -> String {
        switch result {
        case .success(let value): value
        case .failure(let error): (error as? GRPCStatus).map { "\($0.code)" } ?? "\(error)"
        }
    }
}
