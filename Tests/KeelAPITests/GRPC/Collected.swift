import Synchronization

/// Values appended from event-loop callbacks and read by the test afterwards.
final class Collected<Element: Sendable>: Sendable {
    private let storage: Mutex<[Element]>

    init(_ initial: [Element]) {
        storage = Mutex(initial)
    }

    func append(_ element: Element) {
        storage.withLock { $0.append(element) }
    }

    var value: [Element] { storage.withLock { $0 } }
}
