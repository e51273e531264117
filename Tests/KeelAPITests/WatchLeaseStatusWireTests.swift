import FoundationEssentials
import KeelAPI
import Testing

/// Golden bytes for watch, lease and status messages, worked out by hand like KVWireTests.
@Suite struct WatchLeaseStatusWireTests {
    /// Filters are a repeated enum: proto3 packs them into one length-delimited field (`2a 02 00 01`),
    /// as etcd's generated code declares (`rep,packed`).
    @Test func watchCreateRequestWithFilters() throws {
        var create = Etcdserverpb_WatchCreateRequest()
        create.key = data("w")
        create.rangeEnd = data("x")
        create.startRevision = 10
        create.progressNotify = true
        create.filters = [.noput, .nodelete]
        create.prevKv = true
        create.fragment = true
        var request = Etcdserverpb_WatchRequest()
        request.createRequest = create
        try expectWire(request, """
            0a 12 | 0a 01 77 | 12 01 78 | 18 0a | 20 01 | 2a 02 00 01 | 30 01 | 40 01
            """)
    }

    /// A decoder must also take the unpacked form (one `28 xx` per element): the protobuf rules
    /// let any writer choose it.
    @Test func watchFiltersDecodeUnpackedToo() throws {
        let create = try Etcdserverpb_WatchCreateRequest(serializedBytes: bytes("28 01 | 28 00"))
        #expect(create.filters == [.nodelete, .noput])
    }

    /// The progress request is an empty message, yet the oneof is set, so it is sent as a
    /// zero-length field 3; an empty WatchRequest (no bytes) would mean nothing.
    @Test func watchProgressAndCancelRequests() throws {
        var progress = Etcdserverpb_WatchRequest()
        progress.progressRequest = Etcdserverpb_WatchProgressRequest()
        try expectWire(progress, "1a 00")

        var cancel = Etcdserverpb_WatchRequest()
        cancel.cancelRequest.watchID = 3
        try expectWire(cancel, "12 02 | 08 03")

        let decoded = try Etcdserverpb_WatchRequest(serializedBytes: bytes("1a 00"))
        #expect(decoded.requestUnion == .progressRequest(Etcdserverpb_WatchProgressRequest()))
    }

    /// Events are field 11 (tag 5a), not the next free number after fragment (7).
    @Test func watchResponseWithADeleteEvent() throws {
        var event = Mvccpb_Event()
        event.type = .delete
        event.kv.key = data("a")
        event.kv.modRevision = 2
        var response = Etcdserverpb_WatchResponse()
        response.header.revision = 2
        response.watchID = 1
        response.events = [event]
        try expectWire(response, "0a 02 18 02 | 10 01 | 5a 09 | 08 01 | 12 05 0a 01 61 18 02")
    }

    @Test func leaseGrantRequest() throws {
        var request = Etcdserverpb_LeaseGrantRequest()
        request.ttl = 60
        request.id = 0x694D_80AE_9A2D_3A2F
        try expectWire(request, "08 3c | 10 af f4 b4 d1 e9 95 e0 a6 69")

        var serverChosenID = Etcdserverpb_LeaseGrantRequest()
        serverChosenID.ttl = 5
        try expectWire(serverChosenID, "08 05")
    }

    /// int64 is a plain varint, not zigzag: -1 (an expired lease's TTL) takes ten bytes.
    @Test func negativeInt64IsTenBytes() throws {
        var response = Etcdserverpb_LeaseTimeToLiveResponse()
        response.id = 7
        response.ttl = -1
        response.keys = [data("a")]
        try expectWire(response, "10 07 | 18 ff ff ff ff ff ff ff ff ff 01 | 2a 01 61")
    }

    @Test func statusResponse() throws {
        var header = Etcdserverpb_ResponseHeader()
        header.memberID = 0x8E9E_05C5_2164_694D
        header.revision = 5
        header.raftTerm = 2
        var status = Etcdserverpb_StatusResponse()
        status.header = header
        status.version = "3.5.0"
        status.dbSize = 20480
        status.leader = 0x8E9E_05C5_2164_694D
        status.raftIndex = 8
        status.raftTerm = 2
        status.raftAppliedIndex = 8
        status.errors = ["x"]
        status.dbSizeInUse = 16384
        status.isLearner = true
        try expectWire(status, """
            0a 0f | 10 cd d2 91 8b d2 b8 81 cf 8e 01 | 18 05 | 20 02
            12 05 33 2e 35 2e 30
            18 80 a0 01
            20 cd d2 91 8b d2 b8 81 cf 8e 01
            28 08 | 30 02 | 38 08
            42 01 78
            48 80 80 01
            50 01
            """)
    }
}
