import SwiftProtobuf

/// The JSON mapping of etcd's HTTP gateway (/v3/...), as swift-protobuf options.
///
/// etcd 3.5 builds its gateway mux with `runtime.NewServeMux()` and no marshaler option
/// (server/embed/serve.go), so grpc-gateway v1.16's default applies: `JSONPb{OrigName: true}`
/// (runtime/marshaler_registry.go). That means, in responses:
/// - field names as written in the .proto (`range_end`, `create_revision`, `TTL`, `dbSizeInUse`),
///   not lowerCamel;
/// - fields at their default value left out (EmitDefaults is false): an empty header prints as
///   `{}` and a zero revision is absent;
/// - 64-bit integers as JSON strings (`"revision":"3"`), 32-bit ones as numbers (`"hash":42`);
/// - bytes as standard base64 with padding (`"key":"Zm9v"`);
/// - enums by name (`"sort_order":"DESCEND"`).
/// In requests the gateway accepts both the proto names and lowerCamel, enums by name or number,
/// 64-bit integers as strings or numbers, and ignores unknown fields (grpc-gateway v1's
/// `allowUnknownFields` defaults to true).
public enum GatewayJSON {
    /// For responses: `message.jsonString(options: GatewayJSON.encodingOptions)`.
    public static let encodingOptions: JSONEncodingOptions = {
        var options = JSONEncodingOptions()
        options.preserveProtoFieldNames = true
        options.alwaysPrintEnumsAsInts = false
        options.alwaysPrintInt64sAsNumbers = false
        return options
    }()

    /// For request bodies: `try T(jsonString: body, options: GatewayJSON.decodingOptions)`.
    public static let decodingOptions: JSONDecodingOptions = {
        var options = JSONDecodingOptions()
        options.ignoreUnknownFields = true
        return options
    }()
}
