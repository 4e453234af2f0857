import BinlogFormat

extension RowStatements {
    /// A change that may already be on the target (a seed copied the row under a later snapshot):
    /// INSERT as `REPLACE`, UPDATE as `DELETE` by the before-image's key then `REPLACE` of the
    /// after-image (the source logs whole images: `binlog_row_image=FULL`), DELETE by key. No row
    /// count is checked. Applied in source order, the changes bring the row to the source's state
    /// whatever state the copy left it in. Only for tables with a key (a seed copies a table without
    /// one whole, under one snapshot, so its changes are never in a window).
    func writeIdempotent(
        _ rows: inout RowIterator, kind: RowsEvent.Kind, binding: TableBinding, context: Int32, into batch: inout ApplyBatch
    ) throws(BinlogError) {
        while let change = try rows.next() {
            if let before = change.before, kind != .insert {
                batch.sql.append("DELETE FROM ")
                batch.sql.append(binding.qualifiedName)
                let limit = try writeWhere(before, binding: binding, into: &batch.sql)
                if limit { batch.sql.append(" LIMIT 1") }
                batch.endStatement(expecting: nil, context: context)
                if batch.collectsKeys { try addKeys(before, binding: binding, into: &batch) }
                if kind == .delete { batch.rowsDeleted += 1 }
            }
            guard let after = change.after, kind != .delete else { continue }
            let statementStart = batch.sql.count
            let header = insertHeader(after, binding: binding)  // "INSERT INTO …": the verb is replaced
            batch.sql.append("REPLACE")
            batch.sql.append(Array(header[6...]))
            let permissive = try appendRow(after, binding: binding, into: &batch.sql)
            if permissive { makePermissive(&batch.sql, statementStart: statementStart) }
            batch.endStatement(expecting: nil, context: context)
            if batch.collectsKeys { try addKeys(after, binding: binding, into: &batch) }
            if kind == .insert { batch.rowsInserted += 1 } else { batch.rowsUpdated += 1 }
        }
    }
}
