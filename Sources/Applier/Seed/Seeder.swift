import Logging
import MySQLClient
import RelayLog
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// `binlog-relay seed`: copies the source's selected tables to the target under consistent
/// snapshots and leaves the target a checkpoint at the snapshot's position, from which
/// `binlog-relay run` continues (docs/seed.md).
///
/// 1. State on the target (`seed`, `seed_chunk` in the relay schema): a new seed refuses tables
///    that already exist (unless ``SeedConfiguration/replace``), plans the chunks and creates the
///    schemas, tables and (guarded) triggers; an interrupted one continues its plan.
/// 2. Every connection opens its own consistent snapshot and notes its binlog position
///    (MariaDB: `binlog_snapshot_file/position`, no lock; MySQL: briefly under
///    FLUSH TABLES WITH READ LOCK).
/// 3. Connections take chunks in turn; each piece of rows is committed with its chunk's progress.
/// 4. At the end, one transaction marks the seed done and writes the checkpoint at the earliest
///    snapshot position; tables copied at later positions get their window (``SeedWindows``).
public final class Seeder: @unchecked Sendable {
    public let configuration: SeedConfiguration
    public let progress = SeedProgress()
    public let stopFlag = StopFlag()
    private let logger: Logger
    private let seedTables: SeedTables
    private let checkpointTable: CheckpointTable

    public struct Summary: Sendable {
        public var tables: Int
        public var rowsCopied: UInt64
        public var rowsBefore: UInt64
        public var resumed: Bool
        public var checkpoint: SnapshotPosition
        public var snapshots: [SnapshotPosition]
    }

    public init(configuration: SeedConfiguration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
        seedTables = SeedTables(schema: configuration.schema, channel: configuration.channel)
        checkpointTable = CheckpointTable(schema: configuration.schema, channel: configuration.channel)
    }

    // MARK: - Connections

    /// A source connection; `binaryResults` (the copy's) reads values without conversion, the
    /// control connection reads names and definitions in utf8mb4 (a binary session gets them in
    /// utf8mb3, where a 4-byte character of an ENUM member or a comment becomes '?').
    private func connectSource(binaryResults: Bool = true) throws(ApplierError) -> MySQLConnection {
        var source = configuration.source
        source.multiStatements = true
        let connection: MySQLConnection
        do {
            connection = try MySQLConnection(configuration: source)
        } catch {
            throw ApplierError.source("cannot connect to the source \(source.endpoint)", error, code: error.isTransient ? .connection : .configuration)
        }
        do {
            // Values as stored (no conversion of results), TIMESTAMPs in UTC, and no timeout while
            // a worker's reader waits for its writer.
            try connection.execute(
                "SET NAMES utf8mb4, time_zone = '+00:00', net_write_timeout = 3600, net_read_timeout = 3600")
            if binaryResults { try connection.execute("SET character_set_results = NULL") }
            try connection.execute("SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        } catch {
            throw ApplierError.source("cannot prepare the source session", error)
        }
        return connection
    }

    /// The copy session: the values are the source's own, so the session accepts what the
    /// source stored (zero dates, invalid dates, an explicit 0 in AUTO_INCREMENT; each piece sets
    /// its sql_mode, see ``SeedWorker/sqlModeStatement(_:)``), in UTC, without foreign key checks (the source checked them); triggers guarded for
    /// the relay (`@binlog_relay_applying`) do not fire. Unique checks stay on: with them off
    /// InnoDB may not see the duplicate a REPLACE must remove (see ``SeedTable/hasSecondaryUniqueKey``).
    static let copySession = """
        SET SESSION sql_mode = 'NO_AUTO_VALUE_ON_ZERO,ALLOW_INVALID_DATES,NO_ENGINE_SUBSTITUTION', \
        time_zone = '+00:00', foreign_key_checks = 0, unique_checks = 1, sql_auto_is_null = 0, \
        character_set_client = utf8mb4, character_set_connection = utf8mb4, character_set_results = utf8mb4, \
        @binlog_relay_applying = 1, autocommit = 1
        """

    private func connectTarget() throws(ApplierError) -> (MySQLConnection, Int) {
        var target = configuration.target
        target.multiStatements = true
        let connection: MySQLConnection
        do {
            connection = try MySQLConnection(configuration: target)
            try connection.execute("SET NAMES utf8mb4")
            try connection.execute(Self.copySession)
            try? connection.execute("SET SESSION binlog_format = 'ROW'")
            let packet = try connection.query("SELECT @@max_allowed_packet").scalar.flatMap(Int.init) ?? (16 << 20)
            return (connection, packet)
        } catch {
            throw ApplierError(error.isTransient ? .connection : .target, "cannot connect to the target \(target.endpoint)", server: error)
        }
    }

    private func target(_ what: String, _ body: () throws(MySQLError) -> Void) throws(ApplierError) {
        do {
            try body()
        } catch {
            throw ApplierError(error.isTransient ? .connection : .target, what, server: error)
        }
    }

    private func targetQuery<T>(_ what: String, _ body: () throws(MySQLError) -> T) throws(ApplierError) -> T {
        do {
            return try body()
        } catch {
            throw ApplierError(error.isTransient ? .connection : .target, "target: \(what)", server: error)
        }
    }

    private func sourceQuery<T>(_ what: String, _ body: () throws(MySQLError) -> T) throws(ApplierError) -> T {
        do {
            return try body()
        } catch {
            throw ApplierError.source(what, error)
        }
    }

    // MARK: - Run

    /// Seeds, or continues an interrupted seed. A connection lost once the copy has begun (to the
    /// source or the target) is retried with backoff (1 s doubling to 30 s, for as long as
    /// ``SeedConfiguration/retryFor`` allows): each attempt continues from the pieces committed, as
    /// a new run would. Anything else (and a failure before the copy) is thrown at once.
    public func run() throws(ApplierError) -> Summary {
        var delay: Duration = .seconds(1)
        var retriedSince: ContinuousClock.Instant?
        while true {
            do {
                return try runOnce()
            } catch {
                let copying = ["snapshot", "copying"].contains(progress.snapshot.phase)
                let since = retriedSince ?? .now
                guard error.isTransient, copying, !stopFlag.isSet, since.duration(to: .now) < configuration.retryFor else { throw error }
                retriedSince = since
                logger.warning("seed interrupted, continuing in \(delay)", metadata: ["error": "\(error)"])
                let end = ContinuousClock.now + delay
                while !stopFlag.isSet && ContinuousClock.now < end { usleep(50_000) }
                delay = min(delay * 2, .seconds(30))
            }
        }
    }

    private func runOnce() throws(ApplierError) -> Summary {
        let control = try connectSource(binaryResults: false)
        defer { control.close() }
        let isMariaDB = control.isMariaDB
        try checkSource(control)
        let (targetControl, packet) = try connectTarget()
        defer { targetControl.close() }
        var configuration = self.configuration
        configuration.pieceBytes = max(64 << 10, min(configuration.pieceBytes, packet / 4))

        try target("cannot create the relay's tables on the target") { () throws(MySQLError) in
            try checkpointTable.create(on: targetControl)
            try seedTables.create(on: targetControl)
        }
        progress.setPhase("preparing")
        var state = try targetQuery("cannot read the seed's state") { () throws(MySQLError) in try seedTables.state(on: targetControl) }
        let checkpoint = try checkpointTable.read(from: targetControl)
        let tables = try sourceQuery("cannot list the tables") { () throws(MySQLError) in
            try SeedTable.list(on: control, filter: configuration.filter, relaySchema: configuration.schema)
        }
        guard !tables.isEmpty else {
            throw ApplierError(.configuration, "no table on the source matches the filters (--include/--exclude): nothing to seed")
        }
        // Its row_start/row_end times and history cannot be written by statements, and the
        // applier stops on its rows (Applier+Tables): refused before anything is copied.
        let versioned = tables.filter(\.isSystemVersioned).map { "\($0.schema).\($0.name)" }
        if !versioned.isEmpty {
            throw ApplierError(
                .unsupported,
                "\(versioned.joined(separator: ", ")) \(versioned.count == 1 ? "is a system-versioned table" : "are system-versioned tables") (WITH SYSTEM VERSIONING) on the source, whose history and row_start/row_end times the relay cannot copy or apply exactly: exclude \(versioned.count == 1 ? "it" : "them") (\(versioned.map { "--exclude '\($0)'" }.joined(separator: " "))) and copy \(versioned.count == 1 ? "it" : "them") another way")
        }
        if configuration.replace && (state != nil || checkpoint != nil) {
            try forget(targetControl)
            state = nil
        } else if state == "done" || (state == nil && checkpoint != nil) {
            throw ApplierError(
                .configuration,
                "the target already holds a checkpoint for channel '\(configuration.channel)' (\(state == "done" ? "seeded" : "applied") up to source \(checkpoint.map { "\($0.source)" } ?? "?")): `binlog-relay run` continues from it. To seed again from scratch, give --replace (drops the selected tables on the target and the channel's checkpoint)")
        }
        let resumed = state == "copying"
        var chunks: [SeedChunk]
        if resumed {
            chunks = try readPlan(targetControl, tables: tables)
        } else {
            try refuseExisting(targetControl, tables: tables, replace: configuration.replace)
            chunks = try plan(control, tables: tables)
            try writePlan(targetControl, tables: tables, chunks: chunks)
        }
        try createTables(control, targetControl, tables: tables)

        // Progress: rows already copied by an earlier run count as copied.
        var entries = tables.map { SeedProgress.Table(name: $0.displayName, estimatedRows: $0.estimatedRows) }
        for chunk in chunks {
            entries[chunk.table].rows += chunk.rows
            entries[chunk.table].rowsBefore += chunk.rows
        }
        var chunksLeft = [Int](repeating: 0, count: tables.count)
        for chunk in chunks where !chunk.done { chunksLeft[chunk.table] += 1 }
        for index in tables.indices where chunksLeft[index] == 0 {
            entries[index].done = true
            entries[index].estimatedRows = entries[index].rows
        }
        progress.setTables(entries)
        let rowsBefore = entries.reduce(0) { $0 + $1.rowsBefore }
        if resumed {
            let done = chunks.filter(\.done).count
            logger.notice(
                "resuming the seed",
                metadata: ["chunks_done": "\(done)", "chunks": "\(chunks.count)", "rows_already_copied": "\(rowsBefore)"])
        }
        for table in tables where !table.isTransactional {
            logger.warning("\(table.displayName) is not InnoDB: its rows are not committed with the seed's progress (an interrupted piece is written again, with REPLACE)")
        }
        for table in tables where table.key.isEmpty {
            let why = table.hasPrimaryKey ? "its primary key has an ENUM or SET column" : "has no primary key"
            logger.warning("\(table.displayName) \(why): it is copied whole, in one transaction")
        }

        var pending = chunks.filter { !$0.done }
        // Largest first: the long tables start early and the small ones fill in beside them.
        pending.sort { tables[$0.table].estimatedRows / UInt64(max(1, chunkCount(chunks, $0.table))) > tables[$1.table].estimatedRows / UInt64(max(1, chunkCount(chunks, $1.table))) }
        var snapshots: [SnapshotPosition] = []
        if !pending.isEmpty {
            snapshots = try copy(pending, tables: tables, chunksLeft: chunksLeft, configuration: configuration, control: control, isMariaDB: isMariaDB)
        }
        if stopFlag.isSet { throw ApplierError(.configuration, "stopped: run `binlog-relay seed` again to continue") }
        try copySequences(control, targetControl)
        let start = try finish(targetControl)
        let snapshot = progress.snapshot
        return Summary(
            tables: tables.count, rowsCopied: snapshot.rowsThisRun, rowsBefore: rowsBefore, resumed: resumed, checkpoint: start,
            snapshots: snapshots)
    }

    private func chunkCount(_ chunks: [SeedChunk], _ table: Int) -> Int { chunks.lazy.filter { $0.table == table }.count }

    /// The source must log what `run` will need: a binlog, in ROW format with whole row images
    /// (a seed's window applies changes idempotently from them).
    private func checkSource(_ connection: MySQLConnection) throws(ApplierError) {
        let row = try sourceQuery("cannot read the binlog settings") { () throws(MySQLError) in
            try connection.query("SELECT @@log_bin, @@binlog_format, @@binlog_row_image").rows.first ?? []
        }
        guard row.count == 3, row[0] == "1" else {
            throw ApplierError(.configuration, "the source has no binlog (log_bin is OFF): `binlog-relay run` could not continue from a seed")
        }
        guard row[1]?.uppercased() == "ROW" else {
            throw ApplierError(.configuration, "the source's binlog_format is \(row[1] ?? "?"): the relay needs ROW (SET GLOBAL binlog_format = 'ROW')")
        }
        guard row[2]?.uppercased() == "FULL" else {
            throw ApplierError(
                .configuration, "the source's binlog_row_image is \(row[2] ?? "?"): a seed needs FULL (changes while seeding are applied from whole row images)")
        }
    }

    /// Drops what an earlier seed or apply of the channel left (for --replace).
    private func forget(_ connection: MySQLConnection) throws(ApplierError) {
        let channel = "'\(connection.escape(configuration.channel))'"
        try target("cannot remove the channel's earlier seed and checkpoint") { () throws(MySQLError) in
            try connection.execute(
                "\(CheckpointTable.statementMarker)DELETE FROM \(seedTables.chunkName) WHERE channel = \(channel)")
            try connection.execute("\(CheckpointTable.statementMarker)DELETE FROM \(seedTables.seedName) WHERE channel = \(channel)")
            try connection.execute("\(CheckpointTable.statementMarker)DELETE FROM \(checkpointTable.qualifiedName) WHERE channel = \(channel)")
        }
        logger.notice("--replace: the channel's earlier seed and checkpoint are removed", metadata: ["channel": "\(configuration.channel)"])
    }

    /// Target tables that would be overwritten: refused, or dropped with --replace.
    private func refuseExisting(_ connection: MySQLConnection, tables: [SeedTable], replace: Bool) throws(ApplierError) {
        let existing = try existingTables(connection, tables: tables)
        guard !existing.isEmpty else { return }
        let names = tables.filter { existing.contains($0.targetSchema + "\u{0}" + $0.name) }.map { "\($0.targetSchema).\($0.name)" }
        guard replace else {
            let shown = names.prefix(5).joined(separator: ", ") + (names.count > 5 ? " and \(names.count - 5) more" : "")
            throw ApplierError(
                .configuration,
                "the target already holds \(names.count) of the tables to seed (\(shown)): seeding would mix its rows with the source's. Drop them, narrow --include/--exclude, or give --replace to drop and copy them again")
        }
        try target("cannot drop the tables to replace") { () throws(MySQLError) in
            try connection.execute("SET SESSION foreign_key_checks = 0")
            for table in tables where existing.contains(table.targetSchema + "\u{0}" + table.name) {
                try connection.execute("\(CheckpointTable.statementMarker)DROP TABLE \(table.targetName)")
            }
        }
        logger.notice("--replace: dropped tables on the target", metadata: ["tables": "\(names.count)"])
    }

    /// The target schemas of `tables`, made when missing with their source schema's character set.
    private func createSchemas(_ source: MySQLConnection, _ target: MySQLConnection, of tables: [SeedTable]) throws(ApplierError) {
        let schemaRows = try sourceQuery("cannot read the schemas") { () throws(MySQLError) in
            try source.query("SELECT SCHEMA_NAME, DEFAULT_CHARACTER_SET_NAME, DEFAULT_COLLATION_NAME FROM information_schema.SCHEMATA").rows
        }
        var charsets: [String: (String, String)] = [:]
        for row in schemaRows { charsets[row[0] ?? ""] = (row[1] ?? "utf8mb4", row[2] ?? "utf8mb4_general_ci") }
        var created: Set<String> = []
        for table in tables where !created.contains(table.targetSchema) {
            created.insert(table.targetSchema)
            let (charset, collation) = charsets[table.schema] ?? ("utf8mb4", "utf8mb4_general_ci")
            try self.target("cannot create schema \(table.targetSchema) on the target") { () throws(MySQLError) in
                try target.execute(
                    "\(CheckpointTable.statementMarker)CREATE DATABASE IF NOT EXISTS \(SeedTable.quote(table.targetSchema)) CHARACTER SET \(charset) COLLATE \(collation)")
            }
        }
    }

    private func existingTables(_ connection: MySQLConnection, tables: [SeedTable]) throws(ApplierError) -> Set<String> {
        let schemas = Set(tables.map(\.targetSchema)).map { "'\(connection.escape($0))'" }.joined(separator: ",")
        let rows = try targetQuery("cannot list its tables") { () throws(MySQLError) in
            try connection.query("SELECT TABLE_SCHEMA, TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA IN (\(schemas))").rows
        }
        return Set(rows.map { ($0[0] ?? "") + "\u{0}" + ($0[1] ?? "") })
    }

    // MARK: - Plan

    /// Chunks: one per table, or key ranges of the first (integer) key column for a large table.
    private func plan(_ source: MySQLConnection, tables: [SeedTable]) throws(ApplierError) -> [SeedChunk] {
        var chunks: [SeedChunk] = []
        for (index, table) in tables.enumerated() {
            let ranges = Int(min(64, table.estimatedRows / UInt64(configuration.rangeRows)))
            guard table.splittable, ranges > 1 else {
                chunks.append(SeedChunk(table: index, number: 0))
                continue
            }
            let column = SeedTable.quote(table.columns[table.key[0]].name)
            let row = try sourceQuery("cannot read the key range of \(table.displayName)") { () throws(MySQLError) in
                try source.query("SELECT MIN(\(column)), MAX(\(column)) FROM \(table.sourceName)").rows.first ?? []
            }
            guard let low = row.first.flatMap({ $0 }).flatMap({ Int64($0) }), let high = row.last.flatMap({ $0 }).flatMap({ Int64($0) }),
                high > low
            else {
                chunks.append(SeedChunk(table: index, number: 0))
                continue
            }
            let span = Double(high) - Double(low) + 1
            var bounds: [Int64] = []
            for step in 1..<ranges {
                let bound = Int64(Double(low) + span * Double(step) / Double(ranges))
                if bound > (bounds.last ?? low) { bounds.append(bound) }
            }
            var from: Int64?
            for (number, bound) in bounds.enumerated() {
                chunks.append(SeedChunk(table: index, number: number, rangeFrom: from, rangeTo: bound))
                from = bound
            }
            chunks.append(SeedChunk(table: index, number: bounds.count, rangeFrom: from, rangeTo: nil))
        }
        return chunks
    }

    private func writePlan(_ connection: MySQLConnection, tables: [SeedTable], chunks: [SeedChunk]) throws(ApplierError) {
        var sql = SQLText()
        sql.append("BEGIN;DELETE FROM ")
        sql.append(seedTables.chunkName)
        sql.append(" WHERE channel = ")
        sql.appendQuoted(configuration.channel)
        sql.append(";INSERT INTO ")
        sql.append(seedTables.seedName)
        sql.append(" (channel, state) VALUES (")
        sql.appendQuoted(configuration.channel)
        sql.append(", 'copying') ON DUPLICATE KEY UPDATE state = 'copying', snapshots = 0, started_at = CURRENT_TIMESTAMP(6)")
        for batch in stride(from: 0, to: chunks.count, by: 500) {
            sql.append(";INSERT INTO ")
            sql.append(seedTables.chunkName)
            sql.append(" (channel, source_schema, table_name, chunk, target_schema, range_from, range_to) VALUES ")
            for (offset, chunk) in chunks[batch..<min(chunks.count, batch + 500)].enumerated() {
                let table = tables[chunk.table]
                if offset > 0 { sql.append(",") }
                sql.append("(")
                sql.appendQuoted(configuration.channel)
                sql.append(",")
                sql.appendQuoted(table.schema)
                sql.append(",")
                sql.appendQuoted(table.name)
                sql.append(",")
                sql.append(chunk.number)
                sql.append(",")
                sql.appendQuoted(table.targetSchema)
                sql.append(",")
                sql.append(chunk.rangeFrom.map(String.init) ?? "NULL")
                sql.append(",")
                sql.append(chunk.rangeTo.map(String.init) ?? "NULL")
                sql.append(")")
            }
        }
        sql.append(";COMMIT")
        let outcome = sql.bytes.withUnsafeBytes { connection.executeBatch($0) }
        if let error = outcome.error { throw ApplierError(error.isTransient ? .connection : .target, "cannot write the seed's plan", server: error) }
    }

    /// The plan of the seed being resumed; the tables selected now must be the ones it has.
    private func readPlan(_ connection: MySQLConnection, tables: [SeedTable]) throws(ApplierError) -> [SeedChunk] {
        let rows = try targetQuery("cannot read the seed's plan") { () throws(MySQLError) in
            try connection.query(
                """
                SELECT source_schema, table_name, chunk, range_from, range_to, HEX(last_key), done, copied_rows, target_schema
                FROM \(seedTables.chunkName) WHERE channel = '\(connection.escape(configuration.channel))' ORDER BY source_schema, table_name, chunk
                """
            ).rows
        }
        var index: [String: Int] = [:]
        for (number, table) in tables.enumerated() { index[table.schema + "\u{0}" + table.name] = number }
        var chunks: [SeedChunk] = []
        var planned: Set<String> = []
        for row in rows {
            let key = (row[0] ?? "") + "\u{0}" + (row[1] ?? "")
            planned.insert(key)
            guard let table = index[key], tables[table].targetSchema == row[8] else {
                throw ApplierError(
                    .configuration,
                    "the seed being resumed copies \(row[0] ?? "").\(row[1] ?? "") into \(row[8] ?? ""), which the filters and renames given now do not: give the same --include/--exclude/--rewrite-schema as the first run, or --replace to start over")
            }
            var chunk = SeedChunk(
                table: table, number: Int(row[2] ?? "0") ?? 0, rangeFrom: row[3].flatMap { $0 }.flatMap { Int64($0) },
                rangeTo: row[4].flatMap { $0 }.flatMap { Int64($0) })
            if let hex = row[5] ?? nil, !hex.isEmpty {
                guard let literals = SeedLiteral.decode(Self.unhex(hex)) else {
                    throw ApplierError(.target, "the seed's progress row for \(row[0] ?? "").\(row[1] ?? "") is damaged (last_key)")
                }
                chunk.lastKey = literals
            }
            chunk.done = row[6] == "1"
            chunk.rows = UInt64(row[7] ?? "0") ?? 0
            chunks.append(chunk)
        }
        let missing = tables.filter { !planned.contains($0.schema + "\u{0}" + $0.name) }
        if !missing.isEmpty {
            throw ApplierError(
                .configuration,
                "the seed being resumed did not plan \(missing.prefix(5).map(\.displayName).joined(separator: ", ")): give the same --include/--exclude as the first run, or --replace to start over")
        }
        return chunks
    }

    static func unhex(_ text: String) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count / 2)
        var high: UInt8?
        for character in text.utf8 {
            let value: UInt8 = character <= 57 ? character - 48 : (character | 0x20) - 87
            if let first = high {
                bytes.append(first << 4 | value)
                high = nil
            } else {
                high = value
            }
        }
        return bytes
    }

    // MARK: - Schemas and tables

    /// Creates what the target lacks: schemas (with the source's character set), tables
    /// (`SHOW CREATE TABLE`) and their triggers, guarded so that they do not fire for the relay.
    private func createTables(_ source: MySQLConnection, _ target: MySQLConnection, tables: [SeedTable]) throws(ApplierError) {
        let existing = try existingTables(target, tables: tables)
        try createSchemas(source, target, of: tables)
        let targetTriggers = try targetQuery("cannot list its triggers") { () throws(MySQLError) in
            try target.query("SELECT EVENT_OBJECT_SCHEMA, TRIGGER_NAME FROM information_schema.TRIGGERS").rows
        }
        let triggerNames = Set(targetTriggers.map { ($0[0] ?? "") + "\u{0}" + ($0[1] ?? "") })
        for table in tables {
            if !existing.contains(table.targetSchema + "\u{0}" + table.name) {
                let statement = try sourceQuery("cannot read the definition of \(table.displayName)") { () throws(MySQLError) in
                    try SeedMembers.restore(try table.createStatement(on: source), table: table, on: source)
                }
                try self.target("cannot create \(table.targetSchema).\(table.name) on the target") { () throws(MySQLError) in
                    try target.execute("USE \(SeedTable.quote(table.targetSchema))")
                    try target.execute("SET SESSION sql_mode = 'NO_AUTO_VALUE_ON_ZERO,NO_ENGINE_SUBSTITUTION', foreign_key_checks = 0")
                    try target.execute(CheckpointTable.statementMarker + statement)
                }
            }
            let triggers = try sourceQuery("cannot read the triggers of \(table.displayName)") { () throws(MySQLError) in
                try table.triggers(on: source)
            }
            for trigger in triggers where !triggerNames.contains(table.targetSchema + "\u{0}" + trigger.name) {
                let guarded = Array(trigger.statement.utf8).withUnsafeBytes { TriggerStatement.guardBody($0) }
                guard case .guarded(let bytes) = guarded else {
                    throw ApplierError(.unsupported, "the trigger \(table.schema).\(trigger.name) cannot be read to guard it for the relay")
                }
                try self.target("cannot create the trigger \(trigger.name) on \(table.targetSchema).\(table.name)") { () throws(MySQLError) in
                    try target.execute("USE \(SeedTable.quote(table.targetSchema))")
                    try target.execute("SET SESSION sql_mode = '\(target.escape(trigger.sqlMode))'")
                    try target.execute(CheckpointTable.statementMarker + String(decoding: bytes, as: UTF8.self))
                }
            }
        }
        try self.target("cannot restore the copy session") { () throws(MySQLError) in try target.execute(Self.copySession) }
    }

    // MARK: - Copy

    /// Opens the connections and their snapshots and copies `pending` over them.
    private func copy(
        _ pending: [SeedChunk], tables: [SeedTable], chunksLeft: [Int], configuration: SeedConfiguration, control: MySQLConnection,
        isMariaDB: Bool
    ) throws(ApplierError) -> [SnapshotPosition] {
        let count = max(1, min(configuration.connections, pending.count))
        var sources: [MySQLConnection] = []
        var targets: [MySQLConnection] = []
        for _ in 0..<count {
            sources.append(try connectSource())
            targets.append(try connectTarget().0)
        }
        defer {
            for connection in sources + targets { connection.close() }
        }
        progress.setPhase("snapshot")
        let snapshots = try SeedSnapshot.open(sources, control: control, isMariaDB: isMariaDB, logger: logger)
        try target("cannot count the seed's snapshots") { () throws(MySQLError) in
            try targets[0].execute(
                "UPDATE \(seedTables.seedName) SET snapshots = snapshots + 1 WHERE channel = '\(targets[0].escape(configuration.channel))'")
        }
        let distinct = snapshots.reduce(into: [SnapshotPosition]()) { if !$0.contains($1) { $0.append($1) } }
        logger.info(
            "snapshot taken", metadata: ["positions": "\(distinct.map(\.description).joined(separator: "; "))", "connections": "\(count)"])

        progress.setPhase("copying")
        let queue = Mutex((next: 0, left: chunksLeft))
        let failure = SeedFailure()
        let abort = StopFlag()
        let progress = self.progress
        let chunks = pending
        var threads: [BackgroundThread] = []
        for index in 0..<count {
            let worker = SeedWorker(
                source: sources[index], target: targets[index], snapshot: snapshots[index], tables: tables, seedTables: seedTables,
                configuration: configuration, progress: progress, failure: failure, stopFlag: stopFlag, abort: abort,
                chunkDone: { table in
                    let finished = queue.withLock { state -> Bool in
                        state.left[table] -= 1
                        return state.left[table] == 0
                    }
                    if finished { progress.finish(table: table) }
                })
            threads.append(
                BackgroundThread {
                    worker.run {
                        queue.withLock { state -> SeedChunk? in
                            guard state.next < chunks.count else { return nil }
                            state.next += 1
                            return chunks[state.next - 1]
                        }
                    }
                })
        }
        for thread in threads { thread.join() }
        for connection in sources { try? connection.execute("COMMIT") }
        if let error = failure.value { throw error }
        return snapshots
    }

    // MARK: - Finish

    /// MariaDB's sequences the filter selects: made on the target when missing, then given the
    /// source's state row (`INSERT` into a sequence sets it, as the applier does with the rows the
    /// source logs for one). Read after every snapshot was taken, so never older than the
    /// checkpoint: a state the source logged after it comes again from the binlog in its order,
    /// and one it did not log (values handed out from a cached block) changes nothing on disk.
    private func copySequences(_ source: MySQLConnection, _ target: MySQLConnection) throws(ApplierError) {
        let sequences = try sourceQuery("cannot list the sequences") { () throws(MySQLError) in
            try SeedTable.sequences(on: source, filter: configuration.filter, relaySchema: configuration.schema)
        }
        guard !sequences.isEmpty else { return }
        let existing = try existingTables(target, tables: sequences)
        try createSchemas(source, target, of: sequences)
        for sequence in sequences {
            let (create, state) = try sourceQuery("cannot read the sequence \(sequence.displayName)") {
                () throws(MySQLError) -> (String, [String?]) in
                let create = try source.query("SHOW CREATE SEQUENCE \(sequence.sourceName)").rows.first?[1] ?? nil
                let state = try source.query("SELECT * FROM \(sequence.sourceName)").rows.first ?? []
                return (create ?? "", state)
            }
            // Every column of a sequence's row is an integer: written as the digits it is.
            guard !create.isEmpty, !state.isEmpty,
                state.allSatisfy({ value in value.map { Int64($0) != nil || UInt64($0) != nil } ?? false })
            else {
                throw ApplierError(.unsupported, "the sequence \(sequence.displayName) cannot be read to copy it")
            }
            try self.target("cannot copy the sequence \(sequence.displayName) to the target") { () throws(MySQLError) in
                if !existing.contains(sequence.targetSchema + "\u{0}" + sequence.name) {
                    try target.execute("USE \(SeedTable.quote(sequence.targetSchema))")
                    try target.execute(CheckpointTable.statementMarker + create)
                }
                try target.execute(
                    "\(CheckpointTable.statementMarker)INSERT INTO \(sequence.targetName) VALUES (\(state.map { $0 ?? "" }.joined(separator: ",")))")
            }
            logger.info("sequence copied", metadata: ["sequence": "\(sequence.displayName)"])
        }
    }

    /// Marks the seed done and writes the channel's checkpoint at the earliest snapshot, in one transaction.
    private func finish(_ connection: MySQLConnection) throws(ApplierError) -> SnapshotPosition {
        let rows = try targetQuery("cannot read the seed's progress") { () throws(MySQLError) in
            try connection.query(
                """
                SELECT first_file, first_position, first_gtid FROM \(seedTables.chunkName)
                WHERE channel = '\(connection.escape(configuration.channel))' AND first_file IS NOT NULL
                """
            ).rows
        }
        var earliest: SnapshotPosition?
        for row in rows {
            let position = SnapshotPosition(
                source: SourcePosition(file: row[0] ?? "", position: UInt64(row[1] ?? "0") ?? 0), gtid: (row[2] ?? nil) ?? "")
            if earliest.map({ SnapshotPosition.precedes(position.source, $0.source) }) ?? true { earliest = position }
        }
        guard let earliest else { throw ApplierError(.target, "the seed's progress rows name no snapshot: run it again with --replace") }
        guard let gtid = GTIDState(parsing: earliest.gtid) else {
            throw ApplierError(.target, "the snapshot's GTID position '\(earliest.gtid)' cannot be read")
        }
        let checkpoint = Checkpoint(location: RelayLogLocation(segment: 0, offset: 0), source: earliest.source, gtid: gtid)
        var sql = SQLText()
        sql.append("BEGIN;")
        sql.append(checkpointTable.writeStatement(checkpoint))
        sql.append(";UPDATE ")
        sql.append(seedTables.seedName)
        sql.append(" SET state = 'done' WHERE channel = ")
        sql.appendQuoted(configuration.channel)
        sql.append(";COMMIT")
        let outcome = sql.bytes.withUnsafeBytes { connection.executeBatch($0) }
        if let error = outcome.error {
            throw ApplierError(error.isTransient ? .connection : .target, "cannot write the seed's checkpoint", server: error)
        }
        progress.setPhase("done")
        return earliest
    }
}
