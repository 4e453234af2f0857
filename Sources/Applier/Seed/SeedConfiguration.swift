import MySQLClient
import Synchronization

/// The settings of `binlog-relay seed`.
public struct SeedConfiguration: Sendable {
    public var source: MySQLConnectionConfiguration
    public var target: MySQLConnectionConfiguration
    /// The checkpoint row the seed writes (the channel `run` will use).
    public var channel = "default"
    /// The relay's schema on the target.
    public var schema = "binlog_relay"
    /// The tables to copy and their target schema: the applier's filter.
    public var filter = TableFilter()
    /// Parallel copy over this many source/target connection pairs.
    public var connections = 4
    /// Drop the selected tables that already exist on the target (and any earlier seed or
    /// checkpoint of the channel) instead of refusing.
    public var replace = false
    /// At most this many rows per piece (one target transaction); fewer when rows are large.
    public var pieceRows = 50_000
    /// A piece's statements stop growing past this size (at most a quarter of the target's
    /// `max_allowed_packet`).
    public var pieceBytes = 8 << 20
    /// A table with more estimated rows than this, with an integer first primary-key column, is
    /// split into key ranges that connections copy side by side.
    public var rangeRows = 100_000
    /// How long a seed whose copy has begun keeps retrying lost connections (0: not at all).
    public var retryFor: Duration = .seconds(600)

    public init(source: MySQLConnectionConfiguration, target: MySQLConnectionConfiguration) {
        self.source = source
        self.target = target
    }
}

/// What the seed has done so far, for a progress display on another thread.
public final class SeedProgress: Sendable {
    public struct Table: Sendable {
        public var name: String
        /// The source's estimate (information_schema.TABLES.TABLE_ROWS), or the exact count once done.
        public var estimatedRows: UInt64
        public var rows: UInt64 = 0
        public var bytes: UInt64 = 0
        /// Rows copied by an earlier, interrupted run.
        public var rowsBefore: UInt64 = 0
        public var done = false
    }

    public struct Snapshot: Sendable {
        public var tables: [Table] = []
        public var phase = "starting"
        public var rowsThisRun: UInt64 = 0
        public var bytesThisRun: UInt64 = 0
    }

    private let state = Mutex(Snapshot())

    public init() {}

    public var snapshot: Snapshot { state.withLock { $0 } }

    func setPhase(_ phase: String) { state.withLock { $0.phase = phase } }

    func setTables(_ tables: [Table]) { state.withLock { $0.tables = tables } }

    func add(table: Int, rows: UInt64, bytes: UInt64) {
        state.withLock {
            $0.tables[table].rows += rows
            $0.tables[table].bytes += bytes
            $0.rowsThisRun += rows
            $0.bytesThisRun += bytes
        }
    }

    func finish(table: Int) {
        state.withLock {
            $0.tables[table].done = true
            $0.tables[table].estimatedRows = $0.tables[table].rows
        }
    }
}
