import BinlogFormat
import Logging
import MySQLClient
import RelayLog

#if canImport(Glibc)
import Glibc
#endif

/// The target's tables as the row statements need them: bindings read from information_schema,
/// and the foreign keys that reference them from other schemas.
extension Applier {
    // MARK: - Tables

    func binding(for map: TableMap, entry: RelayLogEntry) throws(ApplierError) -> TableBinding {
        let key = map.schema + "\u{0}" + map.table
        if let existing = bindings[key], existing.tableMap === map { return existing }
        let schema = configuration.filter.targetSchema(map.schema)
        if schemaReadAhead == schema {
            // The read that came with the last DDL statement was of use.
            schemaReadAhead = nil
            unusedSchemaReads = 0
        }
        let created = createdTables[TargetTable.qualifiedKey(schema, map.table)]
        if tables[schema] == nil && created == nil {
            unusedSchemaReads = 0
            // The whole schema in one round trip: after a DDL statement every table of it is
            // read again, and across a slow link one query beats one per table.
            guard let connection else { throw ApplierError(.connection, "not connected") }
            try finishInFlight()
            try flushHeld()
            do {
                var query = TargetTable.query(schema, escape: connection.escape)
                let first = referencedElsewhere == nil
                if first { query = TargetTable.crossSchemaQuery + ";" + query }
                var results = try connection.queryAll(query)
                if first && !results.isEmpty { referencedElsewhere = TargetTable.referencedElsewhere(results.removeFirst()) }
                learnReferences(results, schema: schema)
                tables[schema] = TargetTable.parse(results, schema: schema, referencedElsewhere: referencedElsewhere ?? [])
            } catch {
                throw ApplierError(error.isTransient ? .connection : .target, "cannot read the target's schema", server: error)
            }
        }
        guard let target = created ?? tables[schema]?[map.table] else {
            var error = located(ApplierError(.schemaMismatch, "table `\(schema)`.`\(map.table)` is not on the target"), entry)
            error.table = "`\(schema)`.`\(map.table)`"
            throw error
        }
        if !target.unguardedTriggers.isEmpty {
            let triggers = target.unguardedTriggers
            var error = located(
                ApplierError(
                    .schemaMismatch,
                    "table `\(schema)`.`\(map.table)` has triggers on the target (\(triggers.map { "`\($0)`" }.joined(separator: ", "))) that would run again for rows the source's triggers already logged: drop them on the target (the source's triggers arrive as DDL, made so) or begin each body with `\(TriggerStatement.guardPrefix)…END IF`"),
                entry)
            error.table = "`\(schema)`.`\(map.table)`"
            throw error
        }
        if target.isSystemVersioned {
            // The source logs the hidden row_start/row_end columns and a history row for each
            // changed row; on the target an UPDATE or DELETE makes history of its own and those
            // columns cannot be written by one: no statement can reproduce the table exactly.
            var error = located(
                ApplierError(
                    .unsupported,
                    "table `\(schema)`.`\(map.table)` is system-versioned on the target (WITH SYSTEM VERSIONING): its history and row_start/row_end times come from the source and an UPDATE or DELETE on the target would make history of its own, so the relay cannot apply it exactly: exclude it (--exclude '\(map.schema).\(map.table)') and copy it another way"),
                entry)
            error.table = "`\(schema)`.`\(map.table)`"
            throw error
        }
        do {
            let binding = try TableBinding(tableMap: map, target: target)
            bindings[key] = binding
            return binding
        } catch {
            // A predicted table: the mismatch is the target's only if the table passes its check.
            if created != nil { try flushHeld() }
            throw located(error, entry)
        }
    }

    /// Adds the tables of other schemas that `schema`'s foreign keys reference (read in
    /// `results`, see ``TargetTable/query(_:escape:)``) to ``referencedElsewhere``; a table newly
    /// known so is read again when next needed.
    func learnReferences(_ results: [MySQLResult], schema: String) {
        guard var known = referencedElsewhere else { return }
        for key in TargetTable.crossSchemaReferences(results, schema: schema) where known.insert(key).inserted {
            tables[String(key.prefix { $0 != "\u{0}" })] = nil
            bindings.removeAll()
        }
        referencedElsewhere = known
    }
}
