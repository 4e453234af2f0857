import MySQLClient
import RelayLog

/// The applied position, kept on the target in `<schema>.checkpoint`, one row per channel
/// (a relay and its target) and worker, written in the same transaction as the changes it
/// covers: after any crash, what the row says is exactly what the target holds.
public struct Checkpoint: Sendable, Equatable {
    /// Where the next transaction to apply starts in the local log.
    public var location: RelayLogLocation
    /// The source position after the last applied transaction.
    public var source: SourcePosition
    /// The source GTIDs applied.
    public var gtid: GTIDState
    /// Source transactions applied since the channel began (each counted once).
    public var transactions: UInt64
    /// Source commit time of the last applied transaction (microseconds since the epoch).
    public var commitMicroseconds: UInt64
    /// A DDL statement was being applied when this was written: it ends at this location. A DDL
    /// statement commits by itself, so a crash can fall between it and its checkpoint; on restart
    /// the statement is run again and "already done" errors are taken as done.
    public var pendingStatementEnd: RelayLogLocation?
    /// ``RelayLogReader/fingerprint(before:)`` of ``location``: proves on resume that the local log
    /// is the one the checkpoint was written from.
    public var logFingerprint: UInt32?

    public init(
        location: RelayLogLocation, source: SourcePosition, gtid: GTIDState, transactions: UInt64 = 0,
        commitMicroseconds: UInt64 = 0, pendingStatementEnd: RelayLogLocation? = nil
    ) {
        self.location = location
        self.source = source
        self.gtid = gtid
        self.transactions = transactions
        self.commitMicroseconds = commitMicroseconds
        self.pendingStatementEnd = pendingStatementEnd
    }
}

/// Reads and writes the checkpoint table.
struct CheckpointTable {
    /// The relay's schema on the target (`binlog_relay`); nothing in it is ever replicated.
    let schema: String
    let channel: String

    var qualifiedName: String { String(decoding: SQLText.identifier(schema), as: UTF8.self) + ".`checkpoint`" }

    /// The name of the user lock (`GET_LOCK`) an applier's main session holds on the target for
    /// the channel: at most 64 bytes (MySQL's limit), a hash standing for a long schema or channel.
    var lockName: String {
        let full = "binlog_relay/\(schema)/\(channel)"
        guard full.utf8.count > 64 else { return full }
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325  // FNV-1a: stable across processes, unlike Hasher
        for byte in full.utf8 {
            hash ^= UInt64(byte)
            hash &*= 0x0000_0100_0000_01B3
        }
        return "binlog_relay/" + String(hash, radix: 16)
    }

    /// Marks statements the relay itself runs on the target, so that a relay reading the target's
    /// binlog (the other direction of a two-way setup) recognises and skips them.
    static let statementMarker = "/* binlog-relay */ "

    /// Creates the schema and table when missing, writes `first` as the channel's checkpoint when it
    /// has none (a transaction of its own whose only write is that row: the relay's, for loop
    /// prevention), and reads the channel's checkpoint, in one round trip. Returns it, and whether it
    /// is `first`, just written, and the rows of `alsoQuery` (a SELECT riding along). With parallel
    /// apply each worker has a row; groups commit in source order, so the row furthest along is the
    /// target's position.
    func prepareAndRead(
        on connection: MySQLConnection, first: Checkpoint, alsoQuery: String
    ) throws(ApplierError) -> (Checkpoint?, Bool, MySQLResult?) {
        var insert = SQLText()
        insert.append(writeStatement(first, ifMissing: true))
        let sql = createStatements.joined(separator: ";") + ";" + String(decoding: insert.bytes, as: UTF8.self) + ";"
            + selectStatement(connection) + ";" + alsoQuery
        let outcome = Array(sql.utf8).withUnsafeBytes { connection.executeBatch($0, keepingResults: true) }
        if let error = outcome.error {
            let what = outcome.affectedRows.count < 2 ? "cannot prepare the target session" : "cannot write or read the checkpoint"
            throw ApplierError(error.isTransient ? .connection : .target, what, server: error)
        }
        guard let result = outcome.resultSets.first, outcome.affectedRows.count == 5 else {
            throw ApplierError(.target, "cannot read the checkpoint: the target returned no rows")
        }
        let also = outcome.resultSets.count > 1 ? outcome.resultSets[1] : nil
        return (try Self.checkpoint(from: result, table: qualifiedName), outcome.affectedRows[2] == 1, also)
    }

    /// Creates the schema and table when missing.
    func create(on connection: MySQLConnection) throws(MySQLError) {
        for statement in createStatements { try connection.execute(statement) }
    }

    /// The channel's checkpoint, or nil when it has never applied anything.
    func read(from connection: MySQLConnection) throws(ApplierError) -> Checkpoint? {
        let result: MySQLResult
        do {
            result = try connection.query(selectStatement(connection))
        } catch {
            throw ApplierError(error.isTransient ? .connection : .target, "cannot read the checkpoint", server: error)
        }
        return try Self.checkpoint(from: result, table: qualifiedName)
    }

    /// `CREATE DATABASE` and `CREATE TABLE`, both `IF NOT EXISTS`.
    private var createStatements: [String] {
        let schemaName = String(decoding: SQLText.identifier(schema), as: UTF8.self)
        return [
            "\(Self.statementMarker)CREATE DATABASE IF NOT EXISTS \(schemaName)",
            """
            \(Self.statementMarker)CREATE TABLE IF NOT EXISTS \(qualifiedName) (
              channel VARCHAR(64) NOT NULL,
              worker SMALLINT UNSIGNED NOT NULL,
              log_segment INT UNSIGNED NOT NULL,
              log_offset BIGINT UNSIGNED NOT NULL,
              source_file VARCHAR(512) NOT NULL,
              source_position BIGINT UNSIGNED NOT NULL,
              gtid_set MEDIUMTEXT NOT NULL,
              transactions BIGINT UNSIGNED NOT NULL,
              source_commit_us BIGINT UNSIGNED NOT NULL,
              pending_segment INT UNSIGNED NULL,
              pending_offset BIGINT UNSIGNED NULL,
              log_fingerprint INT UNSIGNED NULL,
              marker BIGINT UNSIGNED NOT NULL DEFAULT 0,
              updated_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6),
              PRIMARY KEY (channel, worker)
            ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4
            """,
        ]
    }

    /// The row furthest along of the channel's checkpoint rows.
    private func selectStatement(_ connection: MySQLConnection) -> String {
        """
        SELECT log_segment, log_offset, source_file, source_position, gtid_set, transactions, source_commit_us,
          pending_segment, pending_offset, log_fingerprint FROM \(qualifiedName)
        WHERE channel = '\(connection.escape(channel))' ORDER BY log_segment DESC, log_offset DESC, worker LIMIT 1
        """
    }

    /// The checkpoint in the first row of `result` (the SELECT of ``prepareAndRead(on:)``).
    static func checkpoint(from result: MySQLResult, table qualifiedName: String) throws(ApplierError) -> Checkpoint? {
        guard let row = result.rows.first else { return nil }
        func number(_ index: Int) throws(ApplierError) -> UInt64 {
            guard let text = row[index], let value = UInt64(text) else {
                throw ApplierError(.log, "the checkpoint row in \(qualifiedName) is damaged (column \(result.columns[index]))")
            }
            return value
        }
        guard let gtid = GTIDState(parsing: row[4] ?? "") else {
            throw ApplierError(.log, "the checkpoint's GTID set cannot be read: '\(row[4] ?? "")'")
        }
        var pending: RelayLogLocation?
        if row[7] != nil { pending = RelayLogLocation(segment: Int(try number(7)), offset: Int64(try number(8))) }
        var checkpoint = Checkpoint(
            location: RelayLogLocation(segment: Int(try number(0)), offset: Int64(try number(1))),
            source: SourcePosition(file: row[2] ?? "", position: try number(3)), gtid: gtid,
            transactions: try number(5), commitMicroseconds: try number(6), pendingStatementEnd: pending)
        if row[9] != nil { checkpoint.logFingerprint = UInt32(truncatingIfNeeded: try number(9)) }
        return checkpoint
    }

    /// The statement that marks a target transaction as the relay's: its first write, so a reader
    /// of the target's binlog knows from the transaction's first row event that the relay made it.
    func markerStatement(worker: Int = 0) -> [UInt8] {
        var sql = SQLText()
        sql.append("UPDATE ")
        sql.append(qualifiedName)
        sql.append(" SET marker = marker + 1 WHERE channel = ")
        sql.appendQuoted(channel)
        sql.append(" AND worker = ")
        sql.append(worker)
        return sql.bytes
    }

    /// Writes `checkpoint` (INSERT … ON DUPLICATE KEY UPDATE: the first one creates the row);
    /// `ifMissing`: only when the row does not exist (INSERT IGNORE).
    func writeStatement(_ checkpoint: Checkpoint, worker: Int = 0, ifMissing: Bool = false) -> [UInt8] {
        var sql = SQLText()
        sql.append(ifMissing ? "INSERT IGNORE INTO " : "INSERT INTO ")
        sql.append(qualifiedName)
        sql.append(
            " (channel, worker, log_segment, log_offset, source_file, source_position, gtid_set, transactions, source_commit_us, pending_segment, pending_offset, log_fingerprint) VALUES ("
        )
        sql.appendQuoted(channel)
        sql.append(",")
        sql.append(worker)
        sql.append(",")
        sql.append(checkpoint.location.segment)
        sql.append(",")
        sql.append(checkpoint.location.offset)
        sql.append(",")
        sql.appendQuoted(checkpoint.source.file)
        sql.append(",")
        sql.append(unsigned: checkpoint.source.position)
        sql.append(",")
        sql.appendQuoted(checkpoint.gtid.description)
        sql.append(",")
        sql.append(unsigned: checkpoint.transactions)
        sql.append(",")
        sql.append(unsigned: checkpoint.commitMicroseconds)
        sql.append(",")
        if let pending = checkpoint.pendingStatementEnd {
            sql.append(pending.segment)
            sql.append(",")
            sql.append(pending.offset)
        } else {
            sql.append("NULL,NULL")
        }
        sql.append(",")
        if let fingerprint = checkpoint.logFingerprint { sql.append(unsigned: UInt64(fingerprint)) } else { sql.append("NULL") }
        if ifMissing {
            sql.append(")")
            return sql.bytes
        }
        sql.append(
            ") ON DUPLICATE KEY UPDATE log_segment=VALUES(log_segment), log_offset=VALUES(log_offset), source_file=VALUES(source_file), source_position=VALUES(source_position), gtid_set=VALUES(gtid_set), transactions=VALUES(transactions), source_commit_us=VALUES(source_commit_us), pending_segment=VALUES(pending_segment), pending_offset=VALUES(pending_offset), log_fingerprint=VALUES(log_fingerprint)"
        )
        return sql.bytes
    }
}
