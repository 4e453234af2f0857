/// Which tables the applier writes to the target, and under which schema name.
///
/// Patterns are `schema.table` or `schema` (every table of it) with `*` (any run of characters)
/// and `?` (one character), matched case-sensitively as the names appear in the binlog. With no
/// include pattern every table is included; an exclude pattern wins over an include. DDL is
/// filtered by its default schema (the `USE` in force when it ran), as MySQL's own
/// `replicate-do-db` does for statements. The relay's own schema is never applied.
public struct TableFilter: Sendable, Equatable {
    public var include: [String]
    public var exclude: [String]
    /// Source schema → target schema.
    public var schemaRenames: [String: String]

    public init(include: [String] = [], exclude: [String] = [], schemaRenames: [String: String] = [:]) {
        self.include = include
        self.exclude = exclude
        self.schemaRenames = schemaRenames
    }

    /// Parses `from=to` pairs.
    public static func renames(_ pairs: [String]) throws(ApplierError) -> [String: String] {
        var renames: [String: String] = [:]
        for pair in pairs {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
                throw ApplierError(.configuration, "target.rewrite_schema: '\(pair)' is not FROM=TO")
            }
            renames[String(parts[0])] = String(parts[1])
        }
        return renames
    }

    public func includes(schema: String, table: String) -> Bool {
        if !include.isEmpty && !include.contains(where: { Self.matches($0, schema: schema, table: table) }) { return false }
        return !exclude.contains(where: { Self.matches($0, schema: schema, table: table) })
    }

    /// For a statement: its default schema against the schema part of every pattern.
    public func includes(schema: String) -> Bool {
        if !include.isEmpty && !include.contains(where: { Self.matches($0, schema: schema, table: nil) }) { return false }
        return !exclude.contains(where: { pattern in
            // Only a whole-schema pattern excludes a schema's statements; `db.t*` excludes tables.
            let parts = Self.split(pattern)
            return (parts.table == nil || parts.table == "*") && Self.wildcard(parts.schema, matches: schema)
        })
    }

    public func targetSchema(_ schema: String) -> String { schemaRenames[schema] ?? schema }

    static func split(_ pattern: String) -> (schema: String, table: String?) {
        guard let dot = pattern.firstIndex(of: ".") else { return (pattern, nil) }
        return (String(pattern[..<dot]), String(pattern[pattern.index(after: dot)...]))
    }

    static func matches(_ pattern: String, schema: String, table: String?) -> Bool {
        let parts = split(pattern)
        guard wildcard(parts.schema, matches: schema) else { return false }
        guard let table, let tablePattern = parts.table else { return true }
        return wildcard(tablePattern, matches: table)
    }

    /// `*` and `?` glob matching, iterative with one backtrack point.
    static func wildcard(_ pattern: String, matches text: String) -> Bool {
        let p = Array(pattern.unicodeScalars)
        let t = Array(text.unicodeScalars)
        var pi = 0
        var ti = 0
        var star = -1
        var mark = 0
        while ti < t.count {
            if pi < p.count && (p[pi] == "?" || p[pi] == t[ti]) {
                pi += 1
                ti += 1
            } else if pi < p.count && p[pi] == "*" {
                star = pi
                mark = ti
                pi += 1
            } else if star >= 0 {
                pi = star + 1
                mark += 1
                ti = mark
            } else {
                return false
            }
        }
        while pi < p.count && p[pi] == "*" { pi += 1 }
        return pi == p.count
    }
}
