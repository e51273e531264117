extension Database {
    /// Visits every page the tree at `root` reaches — the bucket directory and, through its
    /// bucket entries, every bucket's tree — adding each page (overflow pages included) to
    /// `reachable`. With `checkKeys` it also checks what the checker checks: page headers,
    /// keys sorted within a node, every subtree within its separators, no page reached twice.
    func walk(root: PageID, reachable: inout Set<UInt64>, problems: inout [String], checkKeys: Bool) {
        guard root.rawValue != 0 else { return }
        walkTree(root, lower: nil, upper: nil, directory: true, reachable: &reachable, problems: &problems, checkKeys: checkKeys)
    }

    /// Adds every page of the bucket tree at `root` (0: none) to `reachable`.
    func walkBucket(_ root: PageID, reachable: inout Set<UInt64>, problems: inout [String]) {
        guard root.rawValue != 0 else { return }
        walkTree(root, lower: nil, upper: nil, directory: false, reachable: &reachable, problems: &problems, checkKeys: false)
    }

    private func walkTree(_ page: PageID, lower: [UInt8]?, upper: [UInt8]?, directory: Bool,
                          reachable: inout Set<UInt64>, problems: inout [String], checkKeys: Bool) {
        guard page.rawValue >= 2, page.rawValue < freelistPageCount else {
            problems.append("page \(page) is outside the pages in use")
            return
        }
        let view = self.view(page)
        if let problem = view.validate(expected: page) {
            problems.append(problem)
            return
        }
        for extra in 0...UInt64(view.overflow) where !reachable.insert(page.rawValue + extra).inserted {
            problems.append("page \(page.rawValue + extra) is reached twice")
            return
        }
        let count = view.count
        if count == 0 && checkKeys { problems.append("page \(page) is empty (empty nodes are never written)") }
        if checkKeys {
            for i in 0..<count {
                if i > 0 && compareKeys(view.key(i - 1), view.key(i)) >= 0 { problems.append("page \(page): keys \(i - 1) and \(i) out of order") }
                if let lower, compareKeys(lower, view.key(i)) > 0 { problems.append("page \(page): key \(i) below its separator") }
                if let upper, compareKeys(upper, view.key(i)) <= 0 { problems.append("page \(page): key \(i) at or above the next separator") }
            }
        }
        if view.isLeaf {
            guard directory else { return }
            for i in 0..<count {
                guard let bucketRoot = view.bucketRoot(i) else {
                    problems.append("page \(page): directory entry \(i) is not a bucket")
                    continue
                }
                if bucketRoot.rawValue != 0 {
                    walkTree(bucketRoot, lower: nil, upper: nil, directory: false, reachable: &reachable, problems: &problems, checkKeys: checkKeys)
                }
            }
        } else {
            for i in 0..<count {
                let low: [UInt8]? = [UInt8](view.key(i))
                let high: [UInt8]? = i + 1 < count ? [UInt8](view.key(i + 1)) : upper
                walkTree(view.child(i), lower: low, upper: high, directory: directory, reachable: &reachable, problems: &problems, checkKeys: checkKeys)
            }
        }
    }

    /// The high-water mark: pages at or past it belong to no version.
    var freelistPageCount: UInt64 { freelist.pageCount }
}
