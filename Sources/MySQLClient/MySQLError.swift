/// An error from the client library or the server, without secrets: messages come from the
/// server or the library, never contain the password, and say which operation failed.
public struct MySQLError: Error, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String, Hashable, Sendable {
            case connection, authentication, tls, query, protocolViolation, server, configuration
        }
        private let base: Base
        private init(_ base: Base) { self.base = base }
        /// The server could not be reached, or the connection broke.
        public static let connection = Code(.connection)
        /// Wrong user or password, or missing privileges to log in.
        public static let authentication = Code(.authentication)
        /// TLS could not be established or the certificate was not trusted.
        public static let tls = Code(.tls)
        /// A statement failed.
        public static let query = Code(.query)
        /// The server sent something the replication protocol does not allow.
        public static let protocolViolation = Code(.protocolViolation)
        /// The server reported an error on the binlog stream (for example a purged position).
        public static let server = Code(.server)
        /// The connection settings are invalid.
        public static let configuration = Code(.configuration)
        public var description: String { base.rawValue }
    }

    public var code: Code
    /// The server's or library's error number (`mysql_errno`, or the number in an error packet).
    public var number: UInt32
    public var sqlState: String
    public var message: String
    /// What was being done: "connect to 10.0.0.5:3306", "query", "binlog dump".
    public var operation: String

    public init(_ code: Code, number: UInt32 = 0, sqlState: String = "", message: String, operation: String) {
        self.code = code
        self.number = number
        self.sqlState = sqlState
        self.message = message
        self.operation = operation
    }

    /// True for errors a reconnect may cure (network, server gone, restart).
    public var isTransient: Bool {
        code == .connection || [1040, 1053, 1205, 1213, 2003, 2006, 2013, 2055].contains(number)
    }

    public var description: String {
        var text = "\(operation): "
        if number != 0 { text += "error \(number)" + (sqlState.isEmpty ? "" : " (\(sqlState))") + ": " }
        return text + message
    }
}
