import KeelIO

/// An `OSThread` held by reference, so that a variable number of them fit in an array;
/// `join` waits for the thread once.
final class JoinHandle {
    private var thread: OSThread?

    init(_ thread: consuming OSThread) { self.thread = consume thread }

    func join() {
        guard let taken = thread.take() else { preconditionFailure("a thread is joined once") }
        taken.join()
    }
}
