import MySQLClient
import RelayLog

/// Where a source snapshot stands in the source's binlog: the position of the first transaction
/// it does not hold (MariaDB's `binlog_snapshot_file`/`binlog_snapshot_position`), and the GTIDs
/// it holds.
public struct SnapshotPosition: Sendable, Equatable, CustomStringConvertible {
    public var source: SourcePosition
    public var gtid: String

    public init(source: SourcePosition, gtid: String) {
        self.source = source
        self.gtid = gtid
    }

    public var description: String { gtid.isEmpty ? "\(source)" : "\(source) (GTID \(gtid))" }

    /// Binlog order: by the file's number (the digits after its last dot), then the offset.
    public static func precedes(_ left: SourcePosition, _ right: SourcePosition) -> Bool {
        let a = fileNumber(left.file)
        let b = fileNumber(right.file)
        if a != b { return a < b }
        return left.position < right.position
    }

    static func fileNumber(_ file: String) -> UInt64 {
        guard let dot = file.lastIndex(of: ".") else { return 0 }
        return UInt64(file[file.index(after: dot)...]) ?? 0
    }
}

/// The seed's bookkeeping on the target, in the relay schema beside `checkpoint`:
///
/// - `seed`: one row per channel: `copying` while a seed is under way, `done` once its checkpoint
///   is written;
/// - `seed_chunk`: one row per range of a table's primary key (a table without one is a single
///   range): the last key copied, whether the range is done, and the snapshot positions its rows
///   were copied at (the first and the latest). Each piece of a range is committed with its rows,
///   so after any crash the row says exactly what the target holds.
struct SeedTables {
    let schema: String
    let channel: String

    var seedName: String { quoted(schema) + ".`seed`" }
    var chunkName: String { quoted(schema) + ".`seed_chunk`" }

    private func quoted(_ name: String) -> String { String(decoding: SQLText.identifier(name), as: UTF8.self) }

    func create(on connection: MySQLConnection) throws(MySQLError) {
        try connection.execute(
            """
            \(CheckpointTable.statementMarker)CREATE TABLE IF NOT EXISTS \(seedName) (
              channel VARCHAR(64) NOT NULL PRIMARY KEY,
              state VARCHAR(16) NOT NULL,
              snapshots INT UNSIGNED NOT NULL DEFAULT 0,
              started_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
              updated_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6)
            ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4
            """)
        try connection.execute(
            """
            \(CheckpointTable.statementMarker)CREATE TABLE IF NOT EXISTS \(chunkName) (
              channel VARCHAR(64) NOT NULL,
              source_schema VARCHAR(64) NOT NULL,
              table_name VARCHAR(64) NOT NULL,
              chunk INT UNSIGNED NOT NULL,
              target_schema VARCHAR(64) NOT NULL,
              range_from BIGINT NULL,
              range_to BIGINT NULL,
              last_key MEDIUMBLOB NULL,
              done TINYINT NOT NULL DEFAULT 0,
              copied_rows BIGINT UNSIGNED NOT NULL DEFAULT 0,
              copied_bytes BIGINT UNSIGNED NOT NULL DEFAULT 0,
              pieces INT UNSIGNED NOT NULL DEFAULT 0,
              first_file VARCHAR(512) NULL,
              first_position BIGINT UNSIGNED NULL,
              first_gtid MEDIUMTEXT NULL,
              last_file VARCHAR(512) NULL,
              last_position BIGINT UNSIGNED NULL,
              PRIMARY KEY (channel, source_schema, table_name, chunk)
            ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4
            """)
    }

    /// The channel's seed state (`copying`, `done`), or nil when it was never seeded.
    func state(on connection: MySQLConnection) throws(MySQLError) -> String? {
        try connection.query("SELECT state FROM \(seedName) WHERE channel = '\(connection.escape(channel))'").scalar
    }

    /// Whether the seed tables exist (a target the applier met before any seed has none).
    static func exist(schema: String, on connection: MySQLConnection) throws(MySQLError) -> Bool {
        try connection.query(
            "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = '\(connection.escape(schema))' AND TABLE_NAME IN ('seed', 'seed_chunk')"
        ).scalar == "2"
    }
}

/// What the applier must do with a row change because of a seed: tables copied under snapshots
/// taken at different source positions (parallel connections, or a seed resumed after a crash with
/// a new snapshot) hold some changes already.
///
/// For each table, `first` is the earliest snapshot any of its rows was copied at and `last` the
/// latest. A source transaction that starts before `first` is in every row copied: it is skipped
/// for that table. One that starts at or after `last` is in none: applied as usual. One in between
/// is in some rows and not others: applied idempotently (INSERT as REPLACE, UPDATE as delete by the
/// before-image's key and REPLACE of the after-image, DELETE without the row count check), which
/// brings every row to the source's state whichever snapshot it was copied at. Only tables with a
/// primary key span snapshots: a table without one is copied whole in one transaction.
struct SeedWindows {
    enum Mode { case skip, idempotent, normal }

    struct Window {
        var first: SourcePosition
        var last: SourcePosition
    }

    /// By target schema, NUL, table.
    private var windows: [String: Window] = [:]
    /// The latest `last` of any table: past it nothing is special.
    private(set) var end: SourcePosition?

    var isEmpty: Bool { windows.isEmpty }

    init() {}

    init(rows: [[String?]]) {
        for row in rows {
            guard let schema = row[0], let table = row[1], let firstFile = row[2], let firstPosition = row[3].flatMap(UInt64.init),
                let lastFile = row[4], let lastPosition = row[5].flatMap(UInt64.init)
            else { continue }
            let first = SourcePosition(file: firstFile, position: firstPosition)
            let last = SourcePosition(file: lastFile, position: lastPosition)
            let key = schema + "\u{0}" + table
            if var window = windows[key] {
                if SnapshotPosition.precedes(first, window.first) { window.first = first }
                if SnapshotPosition.precedes(window.last, last) { window.last = last }
                windows[key] = window
            } else {
                windows[key] = Window(first: first, last: last)
            }
        }
        for window in windows.values where end.map({ SnapshotPosition.precedes($0, window.last) }) ?? true { end = window.last }
    }

    /// Reads the windows of `channel`'s seed; refuses while a seed is still copying.
    static func load(schema: String, channel: String, from connection: MySQLConnection) throws(ApplierError) -> SeedWindows {
        do {
            guard try SeedTables.exist(schema: schema, on: connection) else { return SeedWindows() }
            let tables = SeedTables(schema: schema, channel: channel)
            if let state = try tables.state(on: connection), state != "done" {
                throw ApplierError(
                    .configuration,
                    "a seed of this target is not finished (channel '\(channel)', state \(state)): run `binlog-relay seed` again to finish it before applying")
            }
            let rows = try connection.query(
                """
                SELECT target_schema, table_name, first_file, first_position, last_file, last_position FROM \(tables.chunkName)
                WHERE channel = '\(connection.escape(channel))'
                """
            ).rows
            return SeedWindows(rows: rows)
        } catch let error as MySQLError {
            throw ApplierError(error.isTransient ? .connection : .target, "cannot read the seed's state", server: error)
        } catch let error as ApplierError {
            throw error
        } catch {
            throw ApplierError(.target, "cannot read the seed's state: \(error)")
        }
    }

    /// What to do with a change to `schema`.`table` in the source transaction that starts at `start`.
    func mode(schema: String, table: String, transactionStart start: SourcePosition) -> Mode {
        guard let window = windows[schema + "\u{0}" + table] else { return .normal }
        if SnapshotPosition.precedes(start, window.first) { return .skip }
        if SnapshotPosition.precedes(start, window.last) { return .idempotent }
        return .normal
    }

    /// Whether a transaction starting at `start` is past every window (the windows can be dropped).
    func isPast(_ start: SourcePosition) -> Bool {
        guard let end else { return true }
        return !SnapshotPosition.precedes(start, end)
    }
}

extension Applier {
    /// Where `run` must start the source for a target that `binlog-relay seed` left: the seed's
    /// checkpoint (no local log location yet), or nil when the channel's checkpoint is not a
    /// seed's (none, or one the applier wrote). A seed not finished is an error.
    public static func seededStart(_ configuration: ApplierConfiguration) throws(ApplierError) -> SnapshotPosition? {
        let (connection, _) = try openSession(configuration.target)
        defer { connection.close() }
        let exists: Bool
        do {
            exists = try connection.query(
                "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = '\(connection.escape(configuration.schema))' AND TABLE_NAME = 'checkpoint'"
            ).scalar == "1"
        } catch {
            throw ApplierError(error.isTransient ? .connection : .target, "cannot read the checkpoint", server: error)
        }
        guard exists else { return nil }
        _ = try SeedWindows.load(schema: configuration.schema, channel: configuration.channel, from: connection)
        let table = CheckpointTable(schema: configuration.schema, channel: configuration.channel)
        guard let checkpoint = try table.read(from: connection), checkpoint.location.segment == 0 else { return nil }
        return SnapshotPosition(source: checkpoint.source, gtid: checkpoint.gtid.description)
    }
}

extension ApplierError {
    /// A failure on the source (the seed reads it): the server's error in the message, named as
    /// the source's (``ApplierError/server`` is the target's).
    static func source(_ what: String, _ error: MySQLError, code: Code? = nil) -> ApplierError {
        let state = error.sqlState.isEmpty ? "" : " (\(error.sqlState))"
        return ApplierError(code ?? (error.isTransient ? .connection : .target), "\(what): source error \(error.number)\(state): \(error.message)")
    }
}
