/// What `verify` found, as text for a person or as one JSON object.
struct VerifyReport {
    var results: [TableResult]
    var seconds: Double

    var equal: Bool { results.allSatisfy { $0.status == .equal } }
    var rows: UInt64 { results.reduce(0) { $0 + $1.rows } }

    func count(_ status: TableResult.Status) -> Int { results.filter { $0.status == status }.count }

    /// Differences first (each table and key range), then one summary line.
    func text() -> String {
        var lines: [String] = []
        for result in results where result.status != .equal {
            let target = result.target == result.source ? "" : " (target \(result.target))"
            switch result.status {
            case .equal:
                break
            case .different:
                lines.append("different: \(result.source)\(target): \(result.differences.count) of \(result.chunks) chunks")
                for difference in result.differences {
                    lines.append(
                        "  \(difference.range): source \(difference.source.rows) rows, target \(difference.target.rows) rows"
                            + (difference.source.rows == difference.target.rows ? ", contents differ" : ""))
                }
            case .missingOnTarget:
                lines.append("missing on the target: \(result.source)\(target)")
            case .missingOnSource:
                lines.append("only on the target: \(result.target)")
            case .columnsDiffer:
                lines.append("columns differ: \(result.source)\(target): the target has no \(result.missingColumns.joined(separator: ", "))")
            }
        }
        let tables = results.count
        var summary = "verify: \(tables) table\(tables == 1 ? "" : "s"), \(rows) source rows"
        if equal {
            summary += ": all equal"
        } else {
            let parts: [(TableResult.Status, String)] = [
                (.equal, "equal"), (.different, "different"), (.missingOnTarget, "missing on the target"),
                (.missingOnSource, "only on the target"), (.columnsDiffer, "with different columns"),
            ]
            summary += ": " + parts.compactMap { status, name in count(status) > 0 ? "\(count(status)) \(name)" : nil }.joined(separator: ", ")
        }
        lines.append(summary + " (\(ProgressText.seconds(seconds)) s)")
        return lines.joined(separator: "\n")
    }

    func json() -> String {
        var tables: [String] = []
        for result in results {
            var fields = [
                "\"source\":\(jsonQuoted(result.source))", "\"target\":\(jsonQuoted(result.target))",
                "\"status\":\(jsonQuoted(result.status.rawValue))",
            ]
            if result.status == .equal || result.status == .different {
                fields.append("\"rows\":\(result.rows)")
                fields.append("\"chunks\":\(result.chunks)")
                fields.append("\"key\":[\(result.key.map(jsonQuoted).joined(separator: ","))]")
            }
            if result.status == .different {
                let differences = result.differences.map { difference in
                    "{\"range\":\(jsonQuoted(difference.range)),\"from\":\(Self.values(difference.lower)),\"to\":\(Self.values(difference.upper)),"
                        + "\"source_rows\":\(difference.source.rows),\"target_rows\":\(difference.target.rows)}"
                }
                fields.append("\"differences\":[\(differences.joined(separator: ","))]")
            }
            if result.status == .columnsDiffer {
                fields.append("\"missing_columns\":[\(result.missingColumns.map(jsonQuoted).joined(separator: ","))]")
            }
            tables.append("{" + fields.joined(separator: ",") + "}")
        }
        return "{\"equal\":\(equal),\"tables_compared\":\(results.count),\"rows\":\(rows),\"seconds\":\(ProgressText.seconds(seconds)),"
            + "\"tables\":[\(tables.joined(separator: ","))]}"
    }

    /// Key bound values as fetched (strings and binary keys in hex), or null for an open end.
    private static func values(_ values: [String]?) -> String {
        guard let values else { return "null" }
        return "[" + values.map(jsonQuoted).joined(separator: ",") + "]"
    }
}
