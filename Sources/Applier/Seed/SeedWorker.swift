import MySQLClient
import RelayLog
import Synchronization

/// A range of one table's primary key (the whole table for one without a key), as `seed_chunk`
/// keeps it.
struct SeedChunk: Sendable {
    var table: Int
    var number: Int
    var rangeFrom: Int64?
    var rangeTo: Int64?
    /// Literals of the last key copied (nil: nothing copied yet).
    var lastKey: [[UInt8]]?
    var done = false
    var rows: UInt64 = 0
}

/// One target transaction's worth of a chunk: its statements, ready to send.
struct SeedPiece: Sendable {
    var sql: [UInt8]
    var table: Int
    var rows: UInt64
    var bytes: UInt64
    /// The piece ends its chunk (the chunk's row says done).
    var endsChunk: Bool
}

/// The first failure of any worker (the seed stops on it).
final class SeedFailure: Sendable {
    private let error = Mutex<ApplierError?>(nil)
    func set(_ failure: ApplierError) { error.withLock { if $0 == nil { $0 = failure } } }
    var value: ApplierError? { error.withLock { $0 } }
}

/// Pieces from a worker's reader to its writer: a bounded hand-off, so the source is read while
/// the target writes the previous piece, and memory stays at a few pieces.
final class SeedPipe: @unchecked Sendable {
    private let monitor = Monitor()
    private var pieces: [SeedPiece] = []
    private var closed = false
    private let capacity: Int

    init(capacity: Int = 2) { self.capacity = capacity }

    /// Waits for room; false when the pipe was closed (the writer failed).
    func put(_ piece: SeedPiece) -> Bool {
        monitor.withLock {
            while pieces.count >= capacity && !closed { monitor.wait() }
            guard !closed else { return false }
            pieces.append(piece)
            monitor.broadcast()
            return true
        }
    }

    /// The next piece, or nil once the pipe is closed and empty.
    func take() -> SeedPiece? {
        monitor.withLock {
            while pieces.isEmpty && !closed { monitor.wait() }
            guard !pieces.isEmpty else { return nil }
            monitor.broadcast()
            return pieces.removeFirst()
        }
    }

    func close() {
        monitor.withLock {
            closed = true
            monitor.broadcast()
        }
    }
}

/// Copies chunks over one source connection (inside its consistent snapshot) and one target
/// connection: the calling thread reads the source and builds each piece's statements, a thread
/// of its own sends them to the target.
final class SeedWorker: @unchecked Sendable {
    let source: MySQLConnection
    let target: MySQLConnection
    let snapshot: SnapshotPosition
    let tables: [SeedTable]
    let seedTables: SeedTables
    let configuration: SeedConfiguration
    let progress: SeedProgress
    let failure: SeedFailure
    /// The user's stop (SIGINT, SIGTERM).
    let stopFlag: StopFlag
    /// Set by the first worker that fails: the others stop too.
    let abort: StopFlag
    private var stopping: Bool { stopFlag.isSet || abort.isSet }
    /// Called by the writer when a chunk is committed done.
    let chunkDone: @Sendable (Int) -> Void
    /// Rows the next piece asks for: a few at first (a table of large BLOBs must not build a huge
    /// piece), then what the average row size says fits in ``SeedConfiguration/pieceBytes``.
    private var rowLimit = 100

    init(
        source: MySQLConnection, target: MySQLConnection, snapshot: SnapshotPosition, tables: [SeedTable],
        seedTables: SeedTables, configuration: SeedConfiguration, progress: SeedProgress, failure: SeedFailure,
        stopFlag: StopFlag, abort: StopFlag, chunkDone: @escaping @Sendable (Int) -> Void
    ) {
        self.source = source
        self.target = target
        self.snapshot = snapshot
        self.tables = tables
        self.seedTables = seedTables
        self.configuration = configuration
        self.progress = progress
        self.failure = failure
        self.stopFlag = stopFlag
        self.abort = abort
        self.chunkDone = chunkDone
    }

    private func fail(_ error: ApplierError) {
        failure.set(error)
        abort.set()
    }

    /// Copies the chunks `next` hands out until it returns nil, a failure, or a stop.
    func run(next: () -> SeedChunk?) {
        let pipe = SeedPipe()
        let writer = BackgroundThread { [self] in
            while let piece = pipe.take() {
                let outcome = piece.sql.withUnsafeBytes { target.executeBatch($0) }
                if let error = outcome.error {
                    pipe.close()
                    let table = tables[piece.table]
                    let code: ApplierError.Code = error.isTransient ? .connection : .target
                    var failure = ApplierError(code, "the target refused a piece of \(table.displayName)", server: error)
                    failure.table = table.targetName
                    fail(failure)
                    // Whatever was open is rolled back.
                    try? target.execute("ROLLBACK")
                    return
                }
                progress.add(table: piece.table, rows: piece.rows, bytes: piece.bytes)
                if piece.endsChunk { chunkDone(piece.table) }
            }
        }
        defer {
            pipe.close()
            writer.join()
        }
        while !stopping, let chunk = next() {
            do {
                if tables[chunk.table].key.isEmpty {
                    try copyWhole(chunk, pipe: pipe)
                } else {
                    try copyByKey(chunk, pipe: pipe)
                }
            } catch {
                fail(error)
                return
            }
        }
    }

    // MARK: - Statements

    private func selectList(_ columns: [Int], of table: SeedTable) -> String {
        columns.map { table.columns[$0].selectExpression }.joined(separator: ",")
    }

    private func insertHeader(_ table: SeedTable) -> [UInt8] {
        let names = table.copied.map { SeedTable.quote(table.columns[$0].name) }.joined(separator: ",")
        let replace = table.hasSecondaryUniqueKey || !table.isTransactional
        return Array("\(replace ? "REPLACE" : "INSERT") INTO \(table.targetName) (\(names)) VALUES ".utf8)
    }

    /// `UPDATE seed_chunk …` recording a piece: its rows, the last key, the snapshot it was copied at.
    private func progressStatement(_ chunk: SeedChunk, table: SeedTable, rows: UInt64, bytes: UInt64, lastKey: [[UInt8]]?, done: Bool) -> [UInt8] {
        var sql = SQLText()
        sql.append("UPDATE ")
        sql.append(seedTables.chunkName)
        sql.append(" SET copied_rows = copied_rows + ")
        sql.append(unsigned: rows)
        sql.append(", copied_bytes = copied_bytes + ")
        sql.append(unsigned: bytes)
        sql.append(", pieces = pieces + 1")
        if let lastKey {
            sql.append(", last_key = ")
            SeedLiteral.encode(lastKey).withUnsafeBytes { sql.appendEscaped($0) }
        }
        if done { sql.append(", done = 1") }
        sql.append(", first_file = COALESCE(first_file, ")
        sql.appendQuoted(snapshot.source.file)
        sql.append("), first_position = COALESCE(first_position, ")
        sql.append(unsigned: snapshot.source.position)
        sql.append("), first_gtid = COALESCE(first_gtid, ")
        sql.appendQuoted(snapshot.gtid)
        sql.append("), last_file = ")
        sql.appendQuoted(snapshot.source.file)
        sql.append(", last_position = ")
        sql.append(unsigned: snapshot.source.position)
        sql.append(" WHERE channel = ")
        sql.appendQuoted(seedTables.channel)
        sql.append(" AND source_schema = ")
        sql.appendQuoted(table.schema)
        sql.append(" AND table_name = ")
        sql.appendQuoted(table.name)
        sql.append(" AND chunk = ")
        sql.append(chunk.number)
        return sql.bytes
    }

    /// Rows as multi-row INSERTs of at most ``statementBytes``, appended to `sql`.
    struct InsertWriter {
        let header: [UInt8]
        var statementBytes: Int
        var open = false
        var statementStart = 0

        mutating func end(_ sql: inout SQLText) {
            guard open else { return }
            sql.append(byte: UInt8(ascii: ";"))
            open = false
        }
    }

    private var statementBytes: Int { min(1 << 20, configuration.pieceBytes) }

    private func sourceError(_ error: any Error, _ table: SeedTable) -> ApplierError {
        var failure =
            (error as? MySQLError).map { ApplierError.source("cannot read \(table.displayName)", $0) }
            ?? ApplierError(.target, "cannot read \(table.displayName) from the source: \(error)")
        failure.table = table.sourceName
        return failure
    }

    // MARK: - Copying

    /// A table with a primary key: pieces in key order from the last key copied, each committed
    /// with the chunk's progress.
    private func copyByKey(_ start: SeedChunk, pipe: SeedPipe) throws(ApplierError) {
        let table = tables[start.table]
        var chunk = start
        rowLimit = min(rowLimit, 100)
        let keyColumns = table.key.map { table.columns[$0] }
        let orderBy = keyColumns.map { SeedTable.quote($0.name) }.joined(separator: ",")
        // Key columns' positions in the select list (every key column is copied: a generated
        // primary key column is read too, never written).
        let selectColumns = table.copied + table.key.filter { table.columns[$0].isGenerated }
        let keyPositions = table.key.map { key in selectColumns.firstIndex(of: key)! }
        let list = selectList(selectColumns, of: table)
        let writtenCount = table.copied.count
        let kinds = table.copied.map { table.columns[$0].literal }
        let header = insertHeader(table)
        var lastRaw = [[UInt8]](repeating: [], count: keyColumns.count)
        while !stopping {
            var conditions: [String] = []
            if let from = chunk.rangeFrom { conditions.append("\(SeedTable.quote(keyColumns[0].name)) >= \(from)") }
            if let to = chunk.rangeTo { conditions.append("\(SeedTable.quote(keyColumns[0].name)) < \(to)") }
            if let last = chunk.lastKey { conditions.append(Self.after(last, columns: keyColumns)) }
            let limit = rowLimit
            let query =
                "SELECT \(list) FROM \(table.sourceName)" + (conditions.isEmpty ? "" : " WHERE " + conditions.joined(separator: " AND "))
                + " ORDER BY \(orderBy) LIMIT \(limit)"
            var inserts = SQLText()
            var writer = InsertWriter(header: header, statementBytes: statementBytes)
            var rowBytes: UInt64 = 0
            var included = 0
            // Rows past pieceBytes (larger than the last pieces said) are left for the next piece.
            var full = false
            let count: Int
            do {
                count = try source.streamRows(
                    query,
                    fields: { _ in },
                    row: { row in
                        guard !full else { return }
                        let before = inserts.count
                        writer.row(Self.Prefix(row, count: writtenCount), kinds: kinds, into: &inserts)
                        rowBytes += UInt64(inserts.count - before)
                        included += 1
                        // The key's bytes (a primary key has no NULL): only the last row's are kept.
                        for (number, position) in keyPositions.enumerated() {
                            lastRaw[number].removeAll(keepingCapacity: true)
                            if let value = row[position] { lastRaw[number].append(contentsOf: value) }
                        }
                        if inserts.count >= configuration.pieceBytes { full = true }
                    })
            } catch {
                throw sourceError(error, table)
            }
            writer.end(&inserts)
            let done = !full && count < limit
            var lastKey: [[UInt8]]?
            if included > 0 {
                lastKey = keyColumns.indices.map { number in
                    var literal = SQLText()
                    lastRaw[number].withUnsafeBytes { SeedLiteral.writeKey($0, column: keyColumns[number], into: &literal) }
                    return literal.bytes
                }
            }
            var sql = SQLText()
            sql.append("BEGIN;")
            sql.append(Self.sqlModeStatement(table))
            sql.append(progressStatement(chunk, table: table, rows: UInt64(included), bytes: rowBytes, lastKey: lastKey, done: done))
            sql.append(byte: UInt8(ascii: ";"))
            sql.append(inserts.bytes)
            sql.append("COMMIT")
            guard pipe.put(SeedPiece(sql: sql.bytes, table: chunk.table, rows: UInt64(included), bytes: rowBytes, endsChunk: done)) else { return }
            if done { return }
            chunk.lastKey = lastKey
            // Aim each piece at pieceBytes.
            let average = max(1, Int(rowBytes) / max(1, included))
            rowLimit = max(1, min(configuration.pieceRows, configuration.pieceBytes / average, rowLimit * 8))
        }
    }

    /// A table without a primary key: read whole, written in one target transaction sent in pieces
    /// (interrupted, it is rolled back and copied again whole).
    private func copyWhole(_ chunk: SeedChunk, pipe: SeedPipe) throws(ApplierError) {
        let table = tables[chunk.table]
        let writtenCount = table.copied.count
        let kinds = table.copied.map { table.columns[$0].literal }
        let header = insertHeader(table)
        var sql = SQLText()
        // First a write to the relay schema (the relay's transactions are known by it), then rows.
        sql.append("BEGIN;")
        sql.append(Self.sqlModeStatement(table))
        sql.append(progressStatement(chunk, table: table, rows: 0, bytes: 0, lastKey: nil, done: false))
        // Empty already, unless an engine that cannot roll back (MyISAM, Aria) kept rows of an
        // interrupted copy.
        sql.append(";DELETE FROM ")
        sql.append(table.targetName)
        sql.append(byte: UInt8(ascii: ";"))
        var writer = InsertWriter(header: header, statementBytes: statementBytes)
        var pieceRows: UInt64 = 0
        var pieceBytes: UInt64 = 0
        var totalRows: UInt64 = 0
        var totalBytes: UInt64 = 0
        var closed = false
        do {
            try source.streamRows(
                "SELECT \(selectList(table.copied, of: table)) FROM \(table.sourceName)",
                fields: { _ in },
                row: { row in
                    guard !closed else { return }
                    let before = sql.count
                    writer.row(Self.Prefix(row, count: writtenCount), kinds: kinds, into: &sql)
                    pieceBytes += UInt64(sql.count - before)
                    pieceRows += 1
                    if sql.count >= configuration.pieceBytes {
                        writer.end(&sql)
                        sql.bytes.removeLast()  // the trailing ';'
                        if !pipe.put(SeedPiece(sql: sql.bytes, table: chunk.table, rows: pieceRows, bytes: pieceBytes, endsChunk: false)) {
                            closed = true
                        }
                        totalRows += pieceRows
                        totalBytes += pieceBytes
                        sql.removeAll()
                        pieceRows = 0
                        pieceBytes = 0
                    }
                })
        } catch {
            throw sourceError(error, table)
        }
        if closed || stopping { return }
        writer.end(&sql)
        totalRows += pieceRows
        totalBytes += pieceBytes
        sql.append(progressStatement(chunk, table: table, rows: totalRows, bytes: totalBytes, lastKey: nil, done: true))
        sql.append(";COMMIT")
        _ = pipe.put(SeedPiece(sql: sql.bytes, table: chunk.table, rows: pieceRows, bytes: pieceBytes, endsChunk: true))
    }

    /// Strict, so that a value the target would store differently is an error, never a silent
    /// change; zero and invalid dates and an explicit 0 in AUTO_INCREMENT allowed as the source
    /// allowed them. A table with ENUM or SET columns is written without STRICT_ALL_TABLES: a
    /// non-strict source stores ENUM's empty value (index 0), which a strict session refuses.
    static let strictMode = "STRICT_ALL_TABLES,NO_AUTO_VALUE_ON_ZERO,ALLOW_INVALID_DATES,NO_ENGINE_SUBSTITUTION"
    static let permissiveMode = "NO_AUTO_VALUE_ON_ZERO,ALLOW_INVALID_DATES,NO_ENGINE_SUBSTITUTION"

    static func sqlModeStatement(_ table: SeedTable) -> String {
        let permissive = table.columns.contains { ["enum", "set"].contains($0.dataType) }
        return "SET SESSION sql_mode = '\(permissive ? permissiveMode : strictMode)';"
    }

    /// `(k1, k2, …) > (v1, v2, …)` written out, which every server turns into index ranges.
    static func after(_ last: [[UInt8]], columns: [SeedTable.Column]) -> String {
        let names = columns.map { SeedTable.quote($0.name) }
        let values = last.map { String(decoding: $0, as: UTF8.self) }
        var terms: [String] = []
        for index in names.indices {
            var parts = (0..<index).map { "\(names[$0]) = \(values[$0])" }
            parts.append("\(names[index]) > \(values[index])")
            terms.append(parts.count == 1 ? parts[0] : "(" + parts.joined(separator: " AND ") + ")")
        }
        return terms.count == 1 ? terms[0] : "(" + terms.joined(separator: " OR ") + ")"
    }

    /// The first `count` values of a row (the columns written; key columns read only for the
    /// position follow them).
    struct Prefix {
        let row: MySQLRawRow
        let count: Int
        init(_ row: MySQLRawRow, count: Int) {
            self.row = row
            self.count = count
        }
    }
}

extension SeedWorker.InsertWriter {
    mutating func row(_ prefix: SeedWorker.Prefix, kinds: [SeedLiteral.Kind], into sql: inout SQLText) {
        if open {
            sql.append(byte: UInt8(ascii: ","))
        } else {
            statementStart = sql.count
            sql.append(header)
            open = true
        }
        sql.append(byte: UInt8(ascii: "("))
        for index in 0..<prefix.count {
            if index > 0 { sql.append(byte: UInt8(ascii: ",")) }
            SeedLiteral.write(prefix.row[index], kind: kinds[index], into: &sql)
        }
        sql.append(byte: UInt8(ascii: ")"))
        if sql.count - statementStart >= statementBytes { end(&sql) }
    }
}
