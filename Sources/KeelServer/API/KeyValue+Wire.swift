import Foundation
import KeelAPI
import KeelMVCC

// Conversions between the key space's values and etcd's mvccpb wire messages. The wire
// carries bytes as `Data`, the key space as `[UInt8]`: each conversion copies the key and
// value once, which the two types force; nothing else is copied.

extension KeyValue {
    /// The key space's form of a wire KeyValue, field for field.
    public init(_ wire: Mvccpb_KeyValue) {
        self.init(key: [UInt8](wire.key), createRevision: wire.createRevision, modRevision: wire.modRevision,
                  version: wire.version, value: [UInt8](wire.value), lease: LeaseID(wire.lease))
    }
}

extension Mvccpb_KeyValue {
    /// The wire form of a key space KeyValue, field for field.
    public init(_ kv: KeyValue) {
        self.init()
        key = Data(kv.key)
        createRevision = kv.createRevision
        modRevision = kv.modRevision
        version = kv.version
        value = Data(kv.value)
        lease = kv.lease.rawValue
    }
}

extension Etcdserverpb_ResponseHeader {
    /// `self` carrying the revision the key space answered at. A revision of 0 (a nested
    /// Txn's, which etcd leaves empty) keeps the caller's, as etcd's header fill keeps a
    /// non-zero revision and supplies its own for a zero one.
    func filling(revision: Int64) -> Etcdserverpb_ResponseHeader {
        guard revision != 0 else { return self }
        var header = self
        header.revision = revision
        return header
    }

    /// A header carrying only a revision, as etcd gives the responses nested in a Txn.
    init(revision: Int64) {
        self.init()
        self.revision = revision
    }
}
