#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// One atomically swapped strong reference: the writer publishes a new value, readers load the
/// current one, and neither waits for the other.
///
/// The hard part is reclamation: a reader that has loaded the raw pointer must retain it
/// before the writer drops the old value. Readers announce themselves in epoch slots:
///
/// - reader: claim a free slot (compare-and-swap, no mutex), store the current epoch in it,
///   load the pointer, retain it, free the slot;
/// - writer: swap the pointer, bump the epoch to E, keep the old value retired with tag E,
///   then release every retired value whose tag is at or below the oldest epoch in a slot.
///
/// A reader that loaded an old value read the epoch before the swap that retired it, so its
/// slot holds an epoch below that value's tag until it has retained it; a reader whose slot
/// holds the tag or above read the epoch after the swap, so it can only load a newer value.
/// All of it is sequentially consistent, so those "before"s are one order every thread agrees
/// on. A slot is claimed with epoch 1 (below every tag) so that the short time between the
/// claim and storing the epoch protects everything.
public final class Published<Value: AnyObject & Sendable>: @unchecked Sendable {
    // Sendable: the pointer and slots are atomics; the retired list is behind a mutex.

    /// Readers that can be inside `load()` or `read(_:)` at once; more wait for a slot.
    public static var readerSlotsMax: Int { 256 }

    /// Bits of an `Unmanaged<Value>` that holds one retain on the current value.
    private let current: Atomic<UInt>
    /// Bumped by every publish; starts at 1 (the claim value protects everything).
    private let epoch = Atomic<UInt64>(1)
    private let slots: [PublishedReaderSlot]
    /// Values swapped out and not yet released, each with the epoch its swap began.
    private let retired = Mutex<[(tag: UInt64, value: UInt)]>([])

    #if DEBUG
    /// Tests only: runs inside `load()` after the pointer is loaded and before it is retained,
    /// the window reclamation must respect. Set before readers start.
    var loadWindowHook: (() -> Void)?
    #endif

    public init(_ initial: Value) {
        current = Atomic(UInt(bitPattern: Unmanaged.passRetained(initial).toOpaque()))
        slots = (0..<Self.readerSlotsMax).map { _ in PublishedReaderSlot() }
    }

    deinit {
        // No reader can be inside: each holds a reference to this object while it reads.
        Self.unmanaged(current.load(ordering: .sequentiallyConsistent)).release()
        retired.withLock { retired in
            for entry in retired { Self.unmanaged(entry.value).release() }
            retired.removeAll()
        }
    }

    /// The current value, as a strong reference the caller may keep as long as it likes.
    public func load() -> Value {
        let slot = claimSlot()
        slots[slot].epoch.store(epoch.load(ordering: .sequentiallyConsistent), ordering: .sequentiallyConsistent)
        let value = Self.unmanaged(current.load(ordering: .sequentiallyConsistent))
        #if DEBUG
        loadWindowHook?()
        #endif
        // An explicit retain while the slot still protects the value.
        _ = value.retain()
        slots[slot].epoch.store(0, ordering: .sequentiallyConsistent)
        return value.takeRetainedValue()
    }

    /// Calls `body` with the current value without retaining it: the reader's slot protects
    /// it until `body` returns (so readers never contend on its reference count). Values the
    /// writer retires meanwhile wait for `body` to return, so keep it short.
    public func read<Result>(_ body: (Value) throws -> Result) rethrows -> Result {
        let slot = claimSlot()
        defer { slots[slot].epoch.store(0, ordering: .sequentiallyConsistent) }
        slots[slot].epoch.store(epoch.load(ordering: .sequentiallyConsistent), ordering: .sequentiallyConsistent)
        let value = Self.unmanaged(current.load(ordering: .sequentiallyConsistent))
        return try value._withUnsafeGuaranteedRef { try body($0) }
    }

    /// Makes `value` the current value and releases the retired values no reader can hold
    /// any more. For one writer thread (concurrent calls are serialized, not lost).
    public func publish(_ value: Value) {
        let new = UInt(bitPattern: Unmanaged.passRetained(value).toOpaque())
        retired.withLock { retired in
            let old = current.exchange(new, ordering: .sequentiallyConsistent)
            let tag = epoch.add(1, ordering: .sequentiallyConsistent).newValue
            retired.append((tag, old))
            reclaim(&retired)
        }
    }

    /// Releases the retired values no reader can hold any more, without publishing: for a
    /// writer that has stopped publishing for a while.
    public func reclaim() {
        retired.withLock { reclaim(&$0) }
    }

    /// Values swapped out and still waiting for readers that might hold them.
    public var retiredCount: Int {
        retired.withLock { $0.count }
    }

    private func reclaim(_ retired: inout [(tag: UInt64, value: UInt)]) {
        var oldest = UInt64.max
        for slot in slots {
            let held = slot.epoch.load(ordering: .sequentiallyConsistent)
            if held != 0 { oldest = min(oldest, held) }
        }
        var releasable: [UInt] = []
        retired.removeAll { entry in
            guard entry.tag <= oldest else { return false }
            releasable.append(entry.value)
            return true
        }
        // Released after the list is consistent: a deinit may be long (a whole old version).
        for bits in releasable { Self.unmanaged(bits).release() }
    }

    /// A free slot, starting from one picked by the calling thread (so threads rarely meet on
    /// a slot's cache line).
    private func claimSlot() -> Int {
        var index = Self.threadSlotHint() & (Self.readerSlotsMax - 1)
        var tries = 0
        while !slots[index].epoch.compareExchange(expected: 0, desired: 1, ordering: .sequentiallyConsistent).exchanged {
            index = (index + 1) & (Self.readerSlotsMax - 1)
            tries += 1
            precondition(tries < Self.readerSlotsMax * 1_000_000, "no reader slot free for a long time")
        }
        return index
    }

    private static func threadSlotHint() -> Int {
        #if canImport(Glibc)
        let thread = UInt64(pthread_self())
        #else
        let thread = UInt64(UInt(bitPattern: pthread_self()))
        #endif
        // Thread handles are far apart and aligned: mix the bits before taking the low ones.
        return Int(truncatingIfNeeded: (thread &* 0x9E37_79B9_7F4A_7C15) >> 40)
    }

    private static func unmanaged(_ bits: UInt) -> Unmanaged<Value> {
        Unmanaged.fromOpaque(UnsafeRawPointer(bitPattern: bits)!)
    }
}

/// One reader's epoch, 0 when free, on a cache line of its own so that readers on different
/// slots do not slow each other down.
final class PublishedReaderSlot: Sendable {
    let epoch = Atomic<UInt64>(0)
    // Padding to keep the next slot's atomic off this one's cache line.
    private let padding: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64,
                          UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
}
