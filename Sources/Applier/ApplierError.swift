import MySQLClient
import RelayLog

/// Why the applier stopped on a transaction: where (relay log location and source position),
/// on what (table, statement kind) and the cause (the server's error, a schema mismatch, a row
/// the target does not have). Never holds a password: server messages and names only.
public struct ApplierError: Error, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private let name: String
        private init(_ name: String) { self.name = name }
        /// The target rejected a statement (its error is in ``ApplierError/server``).
        public static let target = Code("target")
        /// The target cannot be reached or the connection broke: retried with backoff.
        public static let connection = Code("connection")
        /// Source and target tables differ (columns, types, a missing table).
        public static let schemaMismatch = Code("schema mismatch")
        /// A row to update or delete is not on the target, or an insert found one already there:
        /// the target is not a copy of the source.
        public static let divergence = Code("divergence")
        /// An event in the log cannot be decoded.
        public static let decode = Code("decode")
        /// The local log cannot be read, or does not continue from the target's checkpoint.
        public static let log = Code("log")
        /// Something the applier does not support (an XA transaction, LOAD DATA, a system-versioned table).
        public static let unsupported = Code("unsupported")
        /// Bad settings.
        public static let configuration = Code("configuration")
        /// A table made by CREATE TABLE was not the one the applier predicted from the statement
        /// (``CreateTablePrediction``); nothing built from the prediction ran. Not a failure: the
        /// applier resumes from its checkpoint at once.
        public static let predictionMissed = Code("prediction missed")
        public var description: String { name }
    }

    public var code: Code
    public var message: String
    /// Where the statement's event starts in the local log and in the source's binlog.
    public var location: RelayLogLocation?
    public var source: SourcePosition?
    /// `schema.table` and the statement kind (INSERT, UPDATE, DELETE, DDL, COMMIT).
    public var table: String?
    public var statement: String?
    /// The target's error, when it gave one.
    public var server: MySQLError?
    /// It came from a statement of a compound block, which one unknown (``ApplyBatch/compound()``):
    /// the applier applies the group again without blocks before it reports it.
    var inBlock = false

    public init(_ code: Code, _ message: String, server: MySQLError? = nil) {
        self.code = code
        self.message = message
        self.server = server
    }

    /// Worth retrying after a pause: the connection broke, a deadlock or lock wait timeout.
    public var isTransient: Bool {
        if code == .connection { return true }
        return code == .target && (server?.isTransient ?? false)
    }

    public var description: String {
        var text = message
        var context: [String] = []
        if let statement { context.append(statement) }
        if let table { context.append("on \(table)") }
        if let source, !source.file.isEmpty { context.append("source \(source)") }
        if let location { context.append("relay log \(location)") }
        if !context.isEmpty { text += " (" + context.joined(separator: ", ") + ")" }
        if let server { text += ": target error \(server.number)" + (server.sqlState.isEmpty ? "" : " (\(server.sqlState))") + ": \(server.message)" }
        return text
    }
}
