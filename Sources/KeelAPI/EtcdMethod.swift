import SwiftProtobuf

/// One RPC as etcd 3.5 exposes it: its gRPC path, message types, streaming and gateway routes.
/// The server registers its handlers under these paths; keel-bench calls them.
public struct EtcdMethod: Sendable {
    public let path: String
    public let request: any Message.Type
    public let response: any Message.Type
    public let clientStreams: Bool
    public let serverStreams: Bool
    /// POST routes of etcd's JSON gateway, the first one the main route.
    public let routes: [String]

    public init(
        _ path: String, _ request: any Message.Type, _ response: any Message.Type, _ routes: [String],
        clientStreams: Bool = false, serverStreams: Bool = false
    ) {
        self.path = path
        self.request = request
        self.response = response
        self.routes = routes
        self.clientStreams = clientStreams
        self.serverStreams = serverStreams
    }

    /// Written from etcd v3.5.33's api/etcdserverpb/rpc.proto (services, rpcs in declaration
    /// order, stream markers and google.api.http bindings), independently of Keel's .proto.
    public static let all: [EtcdMethod] = kv + watch + lease + cluster + maintenance + auth

    public static let kv: [EtcdMethod] = [
        EtcdMethod("/etcdserverpb.KV/Range", Etcdserverpb_RangeRequest.self, Etcdserverpb_RangeResponse.self, ["/v3/kv/range"]),
        EtcdMethod("/etcdserverpb.KV/Put", Etcdserverpb_PutRequest.self, Etcdserverpb_PutResponse.self, ["/v3/kv/put"]),
        EtcdMethod(
            "/etcdserverpb.KV/DeleteRange", Etcdserverpb_DeleteRangeRequest.self, Etcdserverpb_DeleteRangeResponse.self,
            ["/v3/kv/deleterange"]),
        EtcdMethod("/etcdserverpb.KV/Txn", Etcdserverpb_TxnRequest.self, Etcdserverpb_TxnResponse.self, ["/v3/kv/txn"]),
        EtcdMethod(
            "/etcdserverpb.KV/Compact", Etcdserverpb_CompactionRequest.self, Etcdserverpb_CompactionResponse.self,
            ["/v3/kv/compaction"]),
    ]

    public static let watch: [EtcdMethod] = [
        EtcdMethod(
            "/etcdserverpb.Watch/Watch", Etcdserverpb_WatchRequest.self, Etcdserverpb_WatchResponse.self, ["/v3/watch"],
            clientStreams: true, serverStreams: true),
    ]

    public static let lease: [EtcdMethod] = [
        EtcdMethod(
            "/etcdserverpb.Lease/LeaseGrant", Etcdserverpb_LeaseGrantRequest.self, Etcdserverpb_LeaseGrantResponse.self,
            ["/v3/lease/grant"]),
        EtcdMethod(
            "/etcdserverpb.Lease/LeaseRevoke", Etcdserverpb_LeaseRevokeRequest.self, Etcdserverpb_LeaseRevokeResponse.self,
            ["/v3/lease/revoke", "/v3/kv/lease/revoke"]),
        EtcdMethod(
            "/etcdserverpb.Lease/LeaseKeepAlive", Etcdserverpb_LeaseKeepAliveRequest.self,
            Etcdserverpb_LeaseKeepAliveResponse.self, ["/v3/lease/keepalive"], clientStreams: true, serverStreams: true),
        EtcdMethod(
            "/etcdserverpb.Lease/LeaseTimeToLive", Etcdserverpb_LeaseTimeToLiveRequest.self,
            Etcdserverpb_LeaseTimeToLiveResponse.self, ["/v3/lease/timetolive", "/v3/kv/lease/timetolive"]),
        EtcdMethod(
            "/etcdserverpb.Lease/LeaseLeases", Etcdserverpb_LeaseLeasesRequest.self, Etcdserverpb_LeaseLeasesResponse.self,
            ["/v3/lease/leases", "/v3/kv/lease/leases"]),
    ]

    public static let cluster: [EtcdMethod] = [
        EtcdMethod(
            "/etcdserverpb.Cluster/MemberAdd", Etcdserverpb_MemberAddRequest.self, Etcdserverpb_MemberAddResponse.self,
            ["/v3/cluster/member/add"]),
        EtcdMethod(
            "/etcdserverpb.Cluster/MemberRemove", Etcdserverpb_MemberRemoveRequest.self,
            Etcdserverpb_MemberRemoveResponse.self, ["/v3/cluster/member/remove"]),
        EtcdMethod(
            "/etcdserverpb.Cluster/MemberUpdate", Etcdserverpb_MemberUpdateRequest.self,
            Etcdserverpb_MemberUpdateResponse.self, ["/v3/cluster/member/update"]),
        EtcdMethod(
            "/etcdserverpb.Cluster/MemberList", Etcdserverpb_MemberListRequest.self, Etcdserverpb_MemberListResponse.self,
            ["/v3/cluster/member/list"]),
        EtcdMethod(
            "/etcdserverpb.Cluster/MemberPromote", Etcdserverpb_MemberPromoteRequest.self,
            Etcdserverpb_MemberPromoteResponse.self, ["/v3/cluster/member/promote"]),
    ]

    public static let maintenance: [EtcdMethod] = [
        EtcdMethod(
            "/etcdserverpb.Maintenance/Alarm", Etcdserverpb_AlarmRequest.self, Etcdserverpb_AlarmResponse.self,
            ["/v3/maintenance/alarm"]),
        EtcdMethod(
            "/etcdserverpb.Maintenance/Status", Etcdserverpb_StatusRequest.self, Etcdserverpb_StatusResponse.self,
            ["/v3/maintenance/status"]),
        EtcdMethod(
            "/etcdserverpb.Maintenance/Defragment", Etcdserverpb_DefragmentRequest.self,
            Etcdserverpb_DefragmentResponse.self, ["/v3/maintenance/defragment"]),
        EtcdMethod(
            "/etcdserverpb.Maintenance/Hash", Etcdserverpb_HashRequest.self, Etcdserverpb_HashResponse.self,
            ["/v3/maintenance/hash"]),
        EtcdMethod(
            "/etcdserverpb.Maintenance/HashKV", Etcdserverpb_HashKVRequest.self, Etcdserverpb_HashKVResponse.self,
            ["/v3/maintenance/hashkv"]),
        EtcdMethod(
            "/etcdserverpb.Maintenance/Snapshot", Etcdserverpb_SnapshotRequest.self, Etcdserverpb_SnapshotResponse.self,
            ["/v3/maintenance/snapshot"], serverStreams: true),
        EtcdMethod(
            "/etcdserverpb.Maintenance/MoveLeader", Etcdserverpb_MoveLeaderRequest.self,
            Etcdserverpb_MoveLeaderResponse.self, ["/v3/maintenance/transfer-leadership"]),
        EtcdMethod(
            "/etcdserverpb.Maintenance/Downgrade", Etcdserverpb_DowngradeRequest.self, Etcdserverpb_DowngradeResponse.self,
            ["/v3/maintenance/downgrade"]),
    ]

    public static let auth: [EtcdMethod] = [
        auth("AuthEnable", Etcdserverpb_AuthEnableRequest.self, Etcdserverpb_AuthEnableResponse.self, "enable"),
        auth("AuthDisable", Etcdserverpb_AuthDisableRequest.self, Etcdserverpb_AuthDisableResponse.self, "disable"),
        auth("AuthStatus", Etcdserverpb_AuthStatusRequest.self, Etcdserverpb_AuthStatusResponse.self, "status"),
        auth(
            "Authenticate", Etcdserverpb_AuthenticateRequest.self, Etcdserverpb_AuthenticateResponse.self,
            "authenticate"),
        auth("UserAdd", Etcdserverpb_AuthUserAddRequest.self, Etcdserverpb_AuthUserAddResponse.self, "user/add"),
        auth("UserGet", Etcdserverpb_AuthUserGetRequest.self, Etcdserverpb_AuthUserGetResponse.self, "user/get"),
        auth("UserList", Etcdserverpb_AuthUserListRequest.self, Etcdserverpb_AuthUserListResponse.self, "user/list"),
        auth(
            "UserDelete", Etcdserverpb_AuthUserDeleteRequest.self, Etcdserverpb_AuthUserDeleteResponse.self,
            "user/delete"),
        auth(
            "UserChangePassword", Etcdserverpb_AuthUserChangePasswordRequest.self,
            Etcdserverpb_AuthUserChangePasswordResponse.self, "user/changepw"),
        auth(
            "UserGrantRole", Etcdserverpb_AuthUserGrantRoleRequest.self, Etcdserverpb_AuthUserGrantRoleResponse.self,
            "user/grant"),
        auth(
            "UserRevokeRole", Etcdserverpb_AuthUserRevokeRoleRequest.self, Etcdserverpb_AuthUserRevokeRoleResponse.self,
            "user/revoke"),
        auth("RoleAdd", Etcdserverpb_AuthRoleAddRequest.self, Etcdserverpb_AuthRoleAddResponse.self, "role/add"),
        auth("RoleGet", Etcdserverpb_AuthRoleGetRequest.self, Etcdserverpb_AuthRoleGetResponse.self, "role/get"),
        auth("RoleList", Etcdserverpb_AuthRoleListRequest.self, Etcdserverpb_AuthRoleListResponse.self, "role/list"),
        auth(
            "RoleDelete", Etcdserverpb_AuthRoleDeleteRequest.self, Etcdserverpb_AuthRoleDeleteResponse.self,
            "role/delete"),
        auth(
            "RoleGrantPermission", Etcdserverpb_AuthRoleGrantPermissionRequest.self,
            Etcdserverpb_AuthRoleGrantPermissionResponse.self, "role/grant"),
        auth(
            "RoleRevokePermission", Etcdserverpb_AuthRoleRevokePermissionRequest.self,
            Etcdserverpb_AuthRoleRevokePermissionResponse.self, "role/revoke"),
    ]

    private static func auth(
        _ method: String, _ request: any Message.Type, _ response: any Message.Type, _ route: String
    ) -> EtcdMethod {
        EtcdMethod("/etcdserverpb.Auth/" + method, request, response, ["/v3/auth/" + route])
    }
}
