/// The store is the watch engine's history: `currentRevision`, `compactRevision`, `events` and
/// `previous` answer from one published view each, on any thread.
extension KVStore: EventHistory {}
