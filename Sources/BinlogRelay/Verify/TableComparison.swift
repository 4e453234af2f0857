import MySQLClient

#if canImport(Glibc)
import Glibc
#endif

/// What both servers say of the same rows.
struct ChunkChecksum: Equatable {
    var rows: UInt64
    var xor: String
    var sum: String
}

/// A key range whose rows differ.
struct ChunkDifference {
    var lower: [String]?
    var upper: [String]?
    var source: ChunkChecksum
    var target: ChunkChecksum
    /// `id > 100 AND id <= 200`, or `all rows` for a table compared whole.
    var range: String
}

/// The result for one table.
struct TableResult {
    enum Status: String {
        case equal
        case different
        case missingOnTarget = "missing_on_target"
        case missingOnSource = "missing_on_source"
        case columnsDiffer = "columns_differ"
    }

    var source: String
    var target: String
    var status: Status
    /// Rows on the source (what was compared).
    var rows: UInt64 = 0
    var chunks = 0
    /// The key chunks were walked by; empty when the table was compared whole.
    var key: [String] = []
    var differences: [ChunkDifference] = []
    /// For `columnsDiffer`: source columns the target lacks.
    var missingColumns: [String] = []
}

/// Compares one table in chunks: bounds walked by key on the source (keyset pagination), each
/// chunk's checksum computed by both servers over the same bounds, differing chunks checked again
/// after a pause (a live relay lags a little).
struct TableComparison {
    var source: MySQLConnection
    var target: MySQLConnection
    var chunkRows: Int
    var recheck: Int
    var recheckWait: Duration
    var progress: VerifyProgress

    func compare(_ table: VerifyTable, on targetTable: VerifyTable) throws(VerifyError) -> TableResult {
        var result = TableResult(source: table.qualifiedName, target: targetTable.qualifiedName, status: .equal)
        let targetColumns = Set(targetTable.columns.map(\.name))
        result.missingColumns = table.columns.map(\.name).filter { !targetColumns.contains($0) }
        if !result.missingColumns.isEmpty {
            result.status = .columnsDiffer
            return result
        }
        result.key = table.key.map(\.name)
        var lower: [String]? = nil
        var differing: [(lower: [String]?, upper: [String]?)] = []
        repeat {
            let upper: [String]?
            if table.key.isEmpty {
                upper = nil
            } else {
                let bound = try run(source, "source", VerifySQL.bound(table, lower: lower, rows: chunkRows))
                upper = bound.rows.first.map { $0.map { $0 ?? "" } }
            }
            let condition = table.key.isEmpty ? nil : VerifySQL.range(table.key, lower: lower, upper: upper)
            let (here, there) = try checksums(table, targetSchema: targetTable.schema, condition: condition)
            result.chunks += 1
            result.rows += here.rows
            if here != there { differing.append((lower, upper)) }
            progress.chunkDone(rows: here.rows)
            lower = upper
        } while lower != nil

        // A live relay applies a little behind the source: look again before calling it a difference.
        var attempts = 0
        while !differing.isEmpty && attempts < recheck {
            attempts += 1
            progress.note("\(table.qualifiedName): \(differing.count) chunk(s) differ, checking again (\(attempts)/\(recheck))")
            sleep(for: recheckWait)
            var still: [(lower: [String]?, upper: [String]?)] = []
            for chunk in differing {
                let condition = table.key.isEmpty ? nil : VerifySQL.range(table.key, lower: chunk.lower, upper: chunk.upper)
                let (here, there) = try checksums(table, targetSchema: targetTable.schema, condition: condition)
                if here != there { still.append(chunk) }
            }
            differing = still
        }
        for chunk in differing {
            let condition = table.key.isEmpty ? nil : VerifySQL.range(table.key, lower: chunk.lower, upper: chunk.upper)
            let (here, there) = try checksums(table, targetSchema: targetTable.schema, condition: condition)
            result.differences.append(
                ChunkDifference(
                    lower: chunk.lower, upper: chunk.upper, source: here, target: there,
                    range: Self.describe(table.key, lower: chunk.lower, upper: chunk.upper)))
        }
        if !result.differences.isEmpty { result.status = .different }
        return result
    }

    private func checksums(_ table: VerifyTable, targetSchema: String, condition: String?) throws(VerifyError) -> (ChunkChecksum, ChunkChecksum) {
        let here = try checksum(source, "source", VerifySQL.checksum(table, schema: table.schema, where: condition))
        let there = try checksum(target, "target", VerifySQL.checksum(table, schema: targetSchema, where: condition))
        return (here, there)
    }

    private func checksum(_ connection: MySQLConnection, _ side: String, _ sql: String) throws(VerifyError) -> ChunkChecksum {
        let row = try run(connection, side, sql).rows.first ?? []
        guard row.count == 3, let count = row[0].flatMap({ UInt64($0) }) else {
            throw VerifyError("\(side): a checksum query returned no figures")
        }
        return ChunkChecksum(rows: count, xor: row[1] ?? "", sum: row[2] ?? "")
    }

    private func run(_ connection: MySQLConnection, _ side: String, _ sql: String) throws(VerifyError) -> MySQLResult {
        do {
            return try connection.query(sql)
        } catch {
            throw VerifyError("\(side): \(error)")
        }
    }

    /// `id > 100 AND id <= 200`; `(a, b) > (1, 'x') AND …` for a key of several columns.
    static func describe(_ key: [VerifyColumn], lower: [String]?, upper: [String]?) -> String {
        guard !key.isEmpty else { return "all rows" }
        let name = key.count == 1 ? key[0].name : "(" + key.map(\.name).joined(separator: ", ") + ")"
        func value(_ values: [String]) -> String {
            let shown = zip(values, key).map { VerifySQL.display($0, $1) }
            return shown.count == 1 ? shown[0] : "(" + shown.joined(separator: ", ") + ")"
        }
        switch (lower, upper) {
        case (nil, nil): return "all rows"
        case (let lower?, nil): return "\(name) > \(value(lower))"
        case (nil, let upper?): return "\(name) <= \(value(upper))"
        case (let lower?, let upper?): return "\(name) > \(value(lower)) AND \(name) <= \(value(upper))"
        }
    }

    private func sleep(for duration: Duration) {
        let (seconds, attoseconds) = duration.components
        var request = timespec(tv_sec: Int(seconds), tv_nsec: Int(attoseconds / 1_000_000_000))
        var remaining = timespec()
        while nanosleep(&request, &remaining) != 0 && errno == EINTR { request = remaining }
    }
}

/// An error that ends `verify` with exit status 2; its message never holds a password.
struct VerifyError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
