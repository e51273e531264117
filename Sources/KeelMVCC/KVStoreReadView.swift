/// One immutable state of the key space that readers on any thread share: the revision index,
/// the rows not yet committed to the B+tree, and the current and compact revisions. The apply
/// loop publishes a new one after every write, or after every apply batch (one atomic swap);
/// a reader loads one and never takes a lock.
final class KVStoreReadView: Sendable {
    let index: IndexVersion
    /// Every row newer than the B+tree commit that was the newest when this view was published.
    let overlay: KVStoreOverlay
    let currentRevision: Int64
    let compactRevision: Int64
    /// `Database.replacements` when the view was published: the contents its index describes.
    let databaseReplacements: UInt64

    init(index: IndexVersion, overlay: KVStoreOverlay, currentRevision: Int64, compactRevision: Int64, databaseReplacements: UInt64) {
        self.index = index
        self.overlay = overlay
        self.currentRevision = currentRevision
        self.compactRevision = compactRevision
        self.databaseReplacements = databaseReplacements
    }
}
