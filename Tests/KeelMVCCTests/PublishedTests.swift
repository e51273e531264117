import KeelIO
@testable import KeelMVCC
import Synchronization
import Testing

/// Counts the deinits of the values one test publishes.
final class DeinitCounter: Sendable {
    let count = Atomic<Int>(0)
}

/// A value whose contents check themselves: a freed or torn value fails `isIntact`.
final class CheckedValue: Sendable {
    let serial: Int
    let words: [UInt64]
    let checksum: UInt64
    let counter: DeinitCounter

    init(serial: Int, counter: DeinitCounter) {
        self.serial = serial
        words = (0..<8).map { UInt64(serial) &* 0x9E37_79B9_7F4A_7C15 &+ UInt64($0) }
        checksum = words.reduce(0x1234) { ($0 &* 31) ^ $1 }
        self.counter = counter
    }

    var isIntact: Bool {
        words.count == 8 && words.reduce(0x1234) { ($0 &* 31) ^ $1 } == checksum
            && words[0] == UInt64(serial) &* 0x9E37_79B9_7F4A_7C15
    }

    deinit { counter.count.add(1, ordering: .sequentiallyConsistent) }
}

@Suite struct PublishedTests {
    @Test func loadSeesTheLatestAndOldValuesAreReleased() {
        let counter = DeinitCounter()
        do {
            let published = Published(CheckedValue(serial: 0, counter: counter))
            #expect(published.load().serial == 0)
            for serial in 1...10 {
                published.publish(CheckedValue(serial: serial, counter: counter))
                #expect(published.load().serial == serial)
            }
            // No reader was inside, so each publish released what it swapped out.
            #expect(published.retiredCount == 0)
            #expect(counter.count.load(ordering: .sequentiallyConsistent) == 10)
        }
        #expect(counter.count.load(ordering: .sequentiallyConsistent) == 11)
    }

    /// A reader inside `read` holds its epoch: values retired meanwhile, including the one it
    /// reads, wait until it leaves.
    @Test func aReaderInsideReadHoldsBackReclamation() {
        let counter = DeinitCounter()
        let published = Published(CheckedValue(serial: 0, counter: counter))
        published.read { value in
            for serial in 1...5 { published.publish(CheckedValue(serial: serial, counter: counter)) }
            #expect(published.retiredCount == 5)
            #expect(counter.count.load(ordering: .sequentiallyConsistent) == 0)
            #expect(value.serial == 0 && value.isIntact)
            // A nested reader sees the newest value.
            #expect(published.load().serial == 5)
        }
        published.reclaim()
        #expect(published.retiredCount == 0)
        #expect(counter.count.load(ordering: .sequentiallyConsistent) == 5)
    }

    #if DEBUG
    /// The writer publishes (and reclaims) while a reader is between loading the pointer and
    /// retaining it: the value that reader loaded must survive until it holds it.
    @Test func aValueBeingLoadedIsNotReleasedUnderTheReader() {
        let counter = DeinitCounter()
        let published = Published(CheckedValue(serial: 0, counter: counter))
        var inWindow = false
        published.loadWindowHook = {
            guard !inWindow else { return }
            inWindow = true
            for serial in 1...3 { published.publish(CheckedValue(serial: serial, counter: counter)) }
            published.reclaim()
            #expect(counter.count.load(ordering: .sequentiallyConsistent) == 0)
        }
        let value = published.load()
        #expect(value.serial == 0 && value.isIntact)
        // Out of the window, the writer lets go of 0, 1 and 2; the reader still holds 0.
        published.reclaim()
        #expect(published.retiredCount == 0)
        #expect(counter.count.load(ordering: .sequentiallyConsistent) == 2)
        _ = consume value
        #expect(counter.count.load(ordering: .sequentiallyConsistent) == 3)
        published.loadWindowHook = nil // it holds `published`
    }
    #endif

    /// Reader threads load (and read) while the writer publishes 100,000 values: every value a
    /// reader sees is intact, and no reader ever sees an older value than it saw before.
    /// Afterwards every value but the current one has been released, and the current one goes
    /// with the `Published`.
    @Test func readersDuringManyPublishesSeeIntactValuesAndNothingLeaks() {
        let counter = DeinitCounter()
        let publishes = 100_000
        let stop = Atomic<Bool>(false)
        let broken = Atomic<Int>(0)
        let loads = Atomic<Int>(0)
        do {
            let published = Published(CheckedValue(serial: 0, counter: counter))
            let readers = (0..<2).map { reader in
                OSThread(name: "keel-test-published-\(reader)") {
                    var last = 0
                    var held: [CheckedValue] = []
                    var count = 0
                    while !stop.load(ordering: .relaxed) {
                        let value = published.load()
                        if !value.isIntact || value.serial < last { broken.add(1, ordering: .relaxed) }
                        last = value.serial
                        // Keep some values for a while, as a long Range would.
                        if count % 64 == 0 { held.append(value) }
                        if held.count > 16 { held.removeFirst(8) }
                        let serial = published.read { $0.isIntact ? $0.serial : -1 }
                        if serial < last { broken.add(1, ordering: .relaxed) }
                        count += 1
                    }
                    for value in held where !value.isIntact { broken.add(1, ordering: .relaxed) }
                    loads.add(count, ordering: .relaxed)
                }
            }
            for serial in 1...publishes { published.publish(CheckedValue(serial: serial, counter: counter)) }
            stop.store(true, ordering: .relaxed)
            for reader in readers { reader.join() }
            published.reclaim()
            #expect(published.retiredCount == 0)
            #expect(counter.count.load(ordering: .sequentiallyConsistent) == publishes)
            #expect(published.load().serial == publishes)
        }
        print("PublishedTests: \(loads.load(ordering: .relaxed)) loads by the readers")
        #expect(broken.load(ordering: .relaxed) == 0)
        #expect(counter.count.load(ordering: .sequentiallyConsistent) == publishes + 1)
    }
}
