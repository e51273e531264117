/// The key space's history as the watch engine reads it: the store implements it (over its
/// published read view, so any thread may call it without a lock), the watch tests implement
/// it over a model.
///
/// A watcher that starts in the past, or that fell behind because its stream was full, catches
/// up through `events(...)` on a gRPC or sync thread while the apply thread goes on writing;
/// the watch engine then closes the gap to the revisions applied meanwhile. So every method
/// answers from one consistent version of the key space, whichever revision is current.
public protocol EventHistory: AnyObject, Sendable {
    /// The newest revision applied (and published).
    var currentRevision: Int64 { get }
    /// The revision of the last compaction (0: none). Events below it may be gone; those of
    /// the compact revision itself are all kept.
    var compactRevision: Int64 { get }

    /// The events with main revision in `[from, through]` on keys in `[key, end)`, in revision
    /// order (sub revision order inside a revision).
    ///
    /// - `end` follows Range's rules: nil means the single key `key`; `[0]` means every key
    ///   `>= key`; otherwise keys in `[key, end)` by unsigned byte order.
    /// - Whole revisions only: after the revision at which the count reaches `eventsMax`, stop
    ///   (so one revision with more events than `eventsMax` still comes whole).
    /// - `prevKV` may be nil (the watch engine fills it through `previous` when asked for).
    /// - `.failure(.compacted(compactRevision:))` when `from < compactRevision` at the version
    ///   read: a compaction has or may have dropped some of those events. (etcd's rule: a
    ///   watch may start at the compact revision.)
    /// - `through` is at most `currentRevision` of the version read; callers never ask beyond
    ///   what the apply path has notified.
    func events(from: Int64, through: Int64, key: [UInt8], end: [UInt8]?, eventsMax: Int) -> Result<[Event], MVCCRefusal>

    /// The version of `key` live just before `revision` (at `revision - 1`), for prev_kv; nil
    /// when the key did not exist then, or when that version was compacted away.
    func previous(_ key: [UInt8], before revision: Int64) -> KeyValue?
}
