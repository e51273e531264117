/// Why `ServerConfiguration.parse` refused the command line or the environment.
///
/// `message` is the text etcd 3.5 prints for the same mistake where etcd has one (for example
/// "flag provided but not defined: -x" or "--election-timeout[400ms] should be at least as 5
/// times as --heartbeat-interval[100ms]"), otherwise Keel's own sentence naming the flag, the
/// value and what is accepted.
public struct ConfigurationError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// The command line does not follow Go's flag syntax or names an unknown flag, or a
        /// value was refused while the flag was being set. etcd exits with status 2 after
        /// printing the message and its usage line.
        case flagSyntax
        /// The flags parsed but do not make a valid member configuration. etcd exits with 1.
        case invalidConfiguration
    }

    public let kind: Kind
    public let message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    /// The process exit status etcd uses for this kind of error.
    public var exitStatus: Int32 { kind == .flagSyntax ? 2 : 1 }

    public var description: String { message }

    static func syntax(_ message: String) -> ConfigurationError { ConfigurationError(.flagSyntax, message) }
    static func invalid(_ message: String) -> ConfigurationError { ConfigurationError(.invalidConfiguration, message) }
}
