/// Which pages the writer may use. Kept in memory only and rebuilt on open from what the
/// newest meta page reaches: every page below the high-water mark that no tree reaches is
/// free. Not persisting it means a commit writes no freelist pages and a freelist can never
/// be corrupt on disk; the price is a walk of the tree's pages on open.
///
/// Pages a commit frees are pending, keyed by that commit's txid: a reader of an older
/// version may still walk them, so they become free only once every reader is at that txid
/// or later.
struct Freelist {
    /// Free pages, sorted; those before `head` are already taken (dropped on the next merge),
    /// so taking the lowest free page costs O(1).
    private var pages: [UInt64] = []
    private var head = 0
    /// Pages freed by each commit, not yet reusable.
    private(set) var pending: [(txid: TxID, pages: [UInt64])] = []
    /// Pages [0, pageCount) exist in the tree's version; allocation past the free pages
    /// raises it.
    private(set) var pageCount: UInt64

    init(pageCount: UInt64, reachable: Set<UInt64>) {
        self.pageCount = pageCount
        pages = (2..<pageCount).filter { !reachable.contains($0) }
    }

    /// Free pages, sorted.
    var free: ArraySlice<UInt64> { pages[head...] }
    var freeCount: Int { pages.count - head }
    var pendingCount: Int { pending.reduce(0) { $0 + $1.pages.count } }

    /// `count` contiguous pages: the first run of free ones, or new pages at the end.
    mutating func allocate(_ count: Int) -> PageID {
        precondition(count >= 1)
        if count == 1, head < pages.count {
            head += 1
            return PageID(pages[head - 1])
        }
        var runStart = head
        for i in head..<pages.count {
            if i > head && pages[i] != pages[i - 1] + 1 { runStart = i }
            if i - runStart + 1 == count {
                let first = pages[runStart]
                pages.removeSubrange(runStart...i)
                return PageID(first)
            }
        }
        let first = pageCount
        pageCount += UInt64(count)
        return PageID(first)
    }

    /// Records pages a commit with `txid` no longer reaches.
    mutating func release(_ page: PageID, count: Int, by txid: TxID) {
        if pending.last?.txid != txid {
            precondition(pending.last.map { $0.txid < txid } ?? true, "pending frees out of txid order")
            pending.append((txid, []))
        }
        for offset in 0..<UInt64(count) { pending[pending.count - 1].pages.append(page.rawValue + offset) }
    }

    /// Makes free the pages of every commit at or before `txid` (no reader is older).
    mutating func reclaim(upTo txid: TxID) {
        var moved: [UInt64] = []
        while let first = pending.first, first.txid <= txid {
            moved += first.pages
            pending.removeFirst()
        }
        guard !moved.isEmpty else { return }
        moved.sort()
        // Merge two sorted runs (and drop the pages taken before `head`).
        var merged: [UInt64] = []
        merged.reserveCapacity(freeCount + moved.count)
        var i = head, j = 0
        while i < pages.count || j < moved.count {
            if j == moved.count || (i < pages.count && pages[i] < moved[j]) {
                merged.append(pages[i])
                i += 1
            } else {
                merged.append(moved[j])
                j += 1
            }
        }
        pages = merged
        head = 0
    }
}
