import BinlogFormat

/// Turns a row event into INSERT, UPDATE and DELETE statements on the target, by key.
///
/// - Inserts of one event go as multi-row INSERTs (split every ~`statementBytes`).
/// - Updates go as one `UPDATE … SET c=CASE k WHEN … END … WHERE k IN (…)` per chunk of rows
///   where no order can matter (``UpdateChunk``), others one statement a row: `SET` every
///   changed after-image column, `WHERE` the key from the before-image (the whole before-image
///   with `<=>` and `LIMIT 1` when the table has no usable key).
/// - Deletes by key go as `DELETE … WHERE k IN (…)` (or `(a,b) IN (…)`); others, and those of a
///   table that references itself, one statement a row.
/// Every statement says how many rows it must affect (see ``ApplyBatch``).
struct RowStatements {
    /// Where a multi-row statement is cut: well under any `max_allowed_packet`.
    var statementBytes = 1 << 20
    /// The target is MariaDB (`SET STATEMENT … FOR`) rather than MySQL (`/*+ SET_VAR(…) */`).
    var targetIsMariaDB = true
    /// The target runs bulk executions: the rows of an insert event of at least
    /// ``bulkEventBytes`` go in the binary protocol (``BulkRows``).
    var bulkInserts = false
    /// Smaller events go as text: a bulk execution costs the group a query boundary and two
    /// checks of its own (``Wire``), which a few short rows do not win back.
    var bulkEventBytes = 1024
    /// The UPDATE chunk that ended the last event, its rows rendered, for the next event of the
    /// same table to continue (when the batch still ends with its statement): a bulk UPDATE of
    /// wide rows comes as many events of a few rows each.
    private var openChunk: (chunk: UpdateChunk, foreignKeysChecked: Bool)?
    /// Continuing a chunk writes its statement again whole: not past this size.
    static let continuedUpdateBytes = 256 << 10

    /// The session's sql_mode without STRICT_ALL_TABLES: for a statement that writes ENUM index 0
    /// (the empty error value a non-strict source stores for an invalid member), which a strict
    /// session refuses whatever literal carries it.
    static let permissiveSQLMode = "NO_AUTO_VALUE_ON_ZERO,ALLOW_INVALID_DATES,NO_ENGINE_SUBSTITUTION"

    /// Makes the statement written from `start` (beginning with a 7-byte verb and a space,
    /// `INSERT `/`UPDATE `) run without strict mode.
    func makePermissive(_ sql: inout SQLText, statementStart start: Int) {
        if targetIsMariaDB {
            sql.bytes.insert(contentsOf: "SET STATEMENT sql_mode='\(Self.permissiveSQLMode)' FOR ".utf8, at: start)
        } else {
            sql.bytes.insert(contentsOf: "/*+ SET_VAR(sql_mode='\(Self.permissiveSQLMode)') */ ".utf8, at: start + 7)
        }
    }

    static func isEnumZero(_ value: ColumnValue) -> Bool {
        if case .enumIndex(0) = value { return true }
        return false
    }

    /// `idempotent`: the change may already be on the target (a seed's window, see SeedWindows):
    /// written so that applying it again does no harm (``writeIdempotent``).
    /// `foreignKeysChecked`: the target checks foreign keys for this event (see ``UpdateChunk``).
    mutating func write(
        _ event: RowsEvent, binding: TableBinding, context: Int32, into batch: inout ApplyBatch, idempotent: Bool = false,
        foreignKeysChecked: Bool = true
    ) throws(ApplierError) {
        do throws(BinlogError) {
            var rows = try event.rows()
            if idempotent {
                if event.kind != .insert { batch.mayMissRows = true }
                batch.splittable = false
                try writeIdempotent(&rows, kind: event.kind, binding: binding, context: context, into: &batch)
                return
            }
            switch event.kind {
            case .insert where bulkInserts && event.rowData.count >= bulkEventBytes:
                try writeBulkInserts(&rows, binding: binding, context: context, into: &batch)
            case .insert: try writeInserts(&rows, binding: binding, context: context, into: &batch)
            case .update:
                try writeUpdates(&rows, binding: binding, context: context, foreignKeysChecked: foreignKeysChecked, into: &batch)
            case .delete:
                try writeDeletes(&rows, binding: binding, context: context, foreignKeysChecked: foreignKeysChecked, into: &batch)
            }
        } catch {
            throw ApplierError(.decode, "a row of the event cannot be decoded: \(error)")
        }
    }

    // MARK: - INSERT

    private func writeInserts(
        _ rows: inout RowIterator, binding: TableBinding, context: Int32, into batch: inout ApplyBatch
    ) throws(BinlogError) {
        var open = false
        var statementStart = 0
        var statementContext = context
        var count: UInt64 = 0
        var permissive = false
        var header: [UInt8] = []
        func close(_ batch: inout ApplyBatch) {
            if permissive {
                // Rare (ENUM index 0): such a statement is never continued.
                makePermissive(&batch.sql, statementStart: statementStart)
                batch.endStatement(expecting: count, context: statementContext)
            } else {
                batch.endRowsStatement(
                    head: header, start: statementStart, rows: count, context: statementContext, mayMiss: false, closing: 0)
            }
            open = false
            permissive = false
            count = 0
            statementContext = context
        }
        while let change = try rows.next() {
            guard let image = change.after else { continue }
            if !open {
                if header.isEmpty { header = insertHeader(image, binding: binding) }
                // Or the previous event's INSERT, into the same columns of the same table.
                (statementStart, count, statementContext) = batch.beginRows(head: header, within: statementBytes, context: context)
                open = true
            } else {
                batch.sql.append(byte: UInt8(ascii: ","))
            }
            if try appendRow(image, binding: binding, into: &batch.sql) { permissive = true }
            if batch.collectsKeys { try addKeys(image, binding: binding, into: &batch) }
            count += 1
            batch.rowsInserted += 1
            if batch.sql.count - statementStart >= statementBytes { close(&batch) }
        }
        if open { close(&batch) }
    }

    /// The event's rows as bulk INSERTs (``BulkRows``), continuing the last one when it is the same
    /// statement; a row with a value that has no binary form goes as a text INSERT of its own.
    private func writeBulkInserts(
        _ rows: inout RowIterator, binding: TableBinding, context: Int32, into batch: inout ApplyBatch
    ) throws(BinlogError) {
        var statement: BulkRows?
        var open = false
        var count: UInt64 = 0
        var bulkContext = context
        var header: [UInt8] = []
        func close(_ batch: inout ApplyBatch) {
            if count > 0 {
                batch.endBulk(rows: count, context: bulkContext)
            } else {
                batch.bulks.removeLast()
            }
            open = false
            count = 0
            bulkContext = context
        }
        while let change = try rows.next() {
            guard let image = change.after else { continue }
            if statement == nil {
                header = insertHeader(image, binding: binding)
                let present = image.present
                let columns = binding.columnNames.indices.filter { present[$0] && binding.writable[$0] }.count
                statement = BulkRows(head: header, parameterCount: columns)
            }
            if !open {
                if let reopened = batch.reopenBulk(statement!.statement, within: statementBytes) {
                    (count, bulkContext) = reopened
                } else {
                    batch.bulks.append(statement!)
                }
                open = true
            }
            let last = batch.bulks.count - 1
            if try batch.bulks[last].append(image, binding: binding) {
                if batch.collectsKeys { try addKeys(image, binding: binding, into: &batch) }
                count += 1
                batch.rowsInserted += 1
                if batch.bulks[last].byteCount >= statementBytes { close(&batch) }
                continue
            }
            close(&batch)
            let start = batch.sql.count
            batch.sql.append(header)
            let permissive = try appendRow(image, binding: binding, into: &batch.sql)
            if permissive { makePermissive(&batch.sql, statementStart: start) }
            if batch.collectsKeys { try addKeys(image, binding: binding, into: &batch) }
            batch.rowsInserted += 1
            batch.endStatement(expecting: 1, context: context, blockable: !permissive)
        }
        if open { close(&batch) }
    }

    /// `(v1,v2,…)`: the image's writable columns as literals. Returns whether one is ENUM index 0
    /// (the statement must then run without strict mode).
    func appendRow(_ image: RowImage, binding: TableBinding, into sql: inout SQLText) throws(BinlogError) -> Bool {
        var permissive = false
        sql.append(byte: UInt8(ascii: "("))
        var first = true
        var iterator = image.makeIterator()
        while let (index, value) = try iterator.next() {
            guard binding.writable[index] else { continue }
            if !first { sql.append(byte: UInt8(ascii: ",")) }
            first = false
            if Self.isEnumZero(value) { permissive = true }
            try wrap { () throws(ApplierError) in try SQLLiteral.write(value, unsigned: binding.unsigned[index], padTo: binding.padLength[index], into: &sql) }
        }
        sql.append(byte: UInt8(ascii: ")"))
        return permissive
    }

    func insertHeader(_ image: RowImage, binding: TableBinding) -> [UInt8] {
        var sql = SQLText()
        sql.append("INSERT INTO ")
        sql.append(binding.qualifiedName)
        sql.append(" (")
        var first = true
        let present = image.present
        for index in binding.columnNames.indices where present[index] && binding.writable[index] {
            if !first { sql.append(byte: UInt8(ascii: ",")) }
            first = false
            sql.append(binding.columnNames[index])
        }
        sql.append(") VALUES ")
        return sql.bytes
    }

    // MARK: - UPDATE

    private mutating func writeUpdates(
        _ rows: inout RowIterator, binding: TableBinding, context: Int32, foreignKeysChecked: Bool, into batch: inout ApplyBatch
    ) throws(BinlogError) {
        let columns = binding.columnNames.count
        var before = BeforeImage(columns: columns)
        var literalBytes = [Int](repeating: 0, count: columns)
        // What a continued chunk's statement is known by (ApplyBatch.reopenRows): its table.
        var head = SQLText()
        head.append("UPDATE ")
        head.append(binding.qualifiedName)
        var chunkContext = context
        // Mutated in place (`chunk!.`): a copy would copy its rows on every change.
        var chunk: UpdateChunk?
        if let open = openChunk, open.chunk.binding === binding, open.foreignKeysChecked == foreignKeysChecked,
            let last = batch.reopenRows(head: head.bytes, within: Self.continuedUpdateBytes)
        {
            // The last event's chunk, its statement taken back: written again with these rows.
            chunk = open.chunk
            chunkContext = last.context
        } else {
            chunk = UpdateChunk(binding: binding, foreignKeysChecked: foreignKeysChecked, maxBytes: statementBytes)
        }
        openChunk = nil
        /// `last`: the event's last rows, a chunk the next event may continue.
        func writeChunk(into batch: inout ApplyBatch, last: Bool = false) throws(BinlogError) {
            guard chunk != nil, !chunk!.isEmpty else { return }
            let statementStart = batch.sql.count
            let permissive = chunk!.permissive
            let keep = last && !permissive
            let count = try chunk!.write(into: &batch.sql, keepingRows: keep)
            if keep {
                batch.endRowsStatement(
                    head: head.bytes, start: statementStart, rows: count, context: chunkContext, mayMiss: true,
                    closing: batch.sql.count - statementStart)
                openChunk = (chunk!, foreignKeysChecked)
            } else {
                if permissive { makePermissive(&batch.sql, statementStart: statementStart) }
                batch.endStatement(expecting: count, context: chunkContext, mayMiss: true, blockable: !permissive)
            }
            chunkContext = context
        }
        while let change = try rows.next() {
            guard let beforeImage = change.before, let after = change.after else { continue }
            batch.rowsUpdated += 1
            // The row's keys go with the statement that changes it (ApplyBatch.split): recorded
            // once the statement before it has ended.
            func addRowKeys() throws(BinlogError) {
                guard batch.collectsKeys else { return }
                try addKeys(beforeImage, binding: binding, into: &batch)
                try addKeys(after, binding: binding, into: &batch, partialImage: true)
            }
            try before.read(beforeImage)
            if chunk != nil {
                try chunk!.examine(before: before, after: after, rowLiteralBytes: &literalBytes)
                if chunk!.row.fits {
                    if !chunk!.accepts(after: after, rowLiteralBytes: literalBytes) { try writeChunk(into: &batch) }
                    try addRowKeys()
                    chunk!.add(before: beforeImage, after: after, rowLiteralBytes: literalBytes)
                    continue
                }
                try writeChunk(into: &batch)
            }
            try addRowKeys()
            try writeUpdate(before: before, after: after, binding: binding, context: context, into: &batch)
        }
        try writeChunk(into: &batch, last: true)
    }

    /// One row's UPDATE: `SET` every logged after-image column that changed, `WHERE` the key from
    /// the before-image (the whole before-image with `<=>` and `LIMIT 1` when the table has no
    /// usable key).
    private func writeUpdate(
        before: BeforeImage, after: RowImage, binding: TableBinding, context: Int32, into batch: inout ApplyBatch
    ) throws(BinlogError) {
        // A column that did not change is left out of SET: less to parse, no secondary index touched.
        let statementStart = batch.sql.count
        var permissive = false
        batch.sql.append("UPDATE ")
        batch.sql.append(binding.qualifiedName)
        batch.sql.append(" SET ")
        var first = true
        var iterator = after.makeIterator()
        while let (index, value, bytes) = try iterator.nextWithBytes() {
            guard binding.writable[index], before.changed(index, to: value, bytes, binding: binding) else { continue }
            if !first { batch.sql.append(byte: UInt8(ascii: ",")) }
            first = false
            batch.sql.append(binding.columnNames[index])
            batch.sql.append(byte: UInt8(ascii: "="))
            if case .jsonDiff(let diff) = value {
                let name = String(decoding: binding.columnNames[index], as: UTF8.self)
                batch.sql.append(try diff.sqlExpression(column: name, lineSeparator: " "))
            } else {
                if Self.isEnumZero(value) { permissive = true }
                try wrap { () throws(ApplierError) in try SQLLiteral.write(value, unsigned: binding.unsigned[index], padTo: binding.padLength[index], into: &batch.sql) }
            }
        }
        if first {
            // Nothing changed: still find the row (a missing one means the copy diverged).
            let column = binding.key.first ?? binding.writable.firstIndex(of: true) ?? 0
            batch.sql.append(binding.columnNames[column])
            batch.sql.append(byte: UInt8(ascii: "="))
            batch.sql.append(binding.columnNames[column])
        }
        let limit = try writeWhere(before.image!, binding: binding, into: &batch.sql)
        if limit { batch.sql.append(" LIMIT 1") }
        if permissive { makePermissive(&batch.sql, statementStart: statementStart) }
        batch.endStatement(expecting: 1, context: context, mayMiss: true, blockable: !permissive)
    }

    /// ` WHERE …` finding the before-image's row; returns whether LIMIT 1 must follow (no key).
    func writeWhere(_ before: RowImage, binding: TableBinding, into sql: inout SQLText) throws(BinlogError) -> Bool {
        sql.append(" WHERE ")
        let present = before.present
        let useKey = !binding.key.isEmpty && binding.key.allSatisfy { present[$0] }
        var first = true
        var iterator = before.makeIterator()
        while let (index, value) = try iterator.next() {
            if useKey {
                guard binding.key.contains(index) else { continue }
            } else {
                guard binding.comparable[index] else { continue }
            }
            if !first { sql.append(" AND ") }
            first = false
            sql.append(binding.columnNames[index])
            sql.append(useKey ? "=" : "<=>")
            try wrap { () throws(ApplierError) in try SQLLiteral.write(value, unsigned: binding.unsigned[index], padTo: binding.padLength[index], into: &sql) }
        }
        if first { sql.append("1") }
        return !useKey
    }

    // MARK: - DELETE

    private func writeDeletes(
        _ rows: inout RowIterator, binding: TableBinding, context: Int32, foreignKeysChecked: Bool, into batch: inout ApplyBatch
    ) throws(BinlogError) {
        // `k IN (…)`, or `(a,b) IN ((…),…)` for a key of several columns; row by row for a table
        // that references itself (see UpdateChunk) and for rows without their key.
        let key = binding.key
        let manyRows = !key.isEmpty && !(foreignKeysChecked && binding.target.referencesItself)
        var open = false
        var statementStart = 0
        var statementContext = context
        var count: UInt64 = 0
        var head: [UInt8] = []
        func close(_ batch: inout ApplyBatch) {
            guard open else { return }
            batch.sql.append(byte: UInt8(ascii: ")"))
            batch.endRowsStatement(
                head: head, start: statementStart, rows: count, context: statementContext, mayMiss: true, closing: 1)
            open = false
            count = 0
            statementContext = context
        }
        while let change = try rows.next() {
            guard let before = change.before else { continue }
            batch.rowsDeleted += 1
            let present = before.present
            guard manyRows, key.allSatisfy({ present[$0] }) else {
                close(&batch)
                // Its keys with its own statement (ApplyBatch.split).
                if batch.collectsKeys { try addKeys(before, binding: binding, into: &batch) }
                batch.sql.append("DELETE FROM ")
                batch.sql.append(binding.qualifiedName)
                let limit = try writeWhere(before, binding: binding, into: &batch.sql)
                if limit { batch.sql.append(" LIMIT 1") }
                batch.endStatement(expecting: 1, context: context, mayMiss: true, blockable: true)
                continue
            }
            if !open {
                if head.isEmpty {
                    var text = SQLText()
                    text.append("DELETE FROM ")
                    text.append(binding.qualifiedName)
                    text.append(" WHERE ")
                    Self.appendKeyColumns(binding, into: &text)
                    text.append(" IN (")
                    head = text.bytes
                }
                // Or the previous event's DELETE from the same table.
                (statementStart, count, statementContext) = batch.beginRows(head: head, within: statementBytes, context: context)
                open = true
            } else {
                batch.sql.append(byte: UInt8(ascii: ","))
            }
            if batch.collectsKeys { try addKeys(before, binding: binding, into: &batch) }
            if key.count > 1 { batch.sql.append(byte: UInt8(ascii: "(")) }
            var first = true
            var iterator = before.makeIterator()
            while let (index, value) = try iterator.next() {
                guard key.contains(index) else { continue }
                if !first { batch.sql.append(byte: UInt8(ascii: ",")) }
                first = false
                try wrap { () throws(ApplierError) in try SQLLiteral.write(value, unsigned: binding.unsigned[index], padTo: binding.padLength[index], into: &batch.sql) }
            }
            if key.count > 1 { batch.sql.append(byte: UInt8(ascii: ")")) }
            count += 1
            if batch.sql.count - statementStart >= statementBytes { close(&batch) }
        }
        close(&batch)
    }

    /// `k`, or `(a,b)` for a key of several columns: in binlog column order, as a row image lists
    /// its values.
    static func appendKeyColumns(_ binding: TableBinding, into sql: inout SQLText) {
        guard binding.key.count > 1 else {
            sql.append(binding.columnNames[binding.key[0]])
            return
        }
        sql.append(byte: UInt8(ascii: "("))
        for (position, column) in binding.key.sorted().enumerated() {
            if position > 0 { sql.append(byte: UInt8(ascii: ",")) }
            sql.append(binding.columnNames[column])
        }
        sql.append(byte: UInt8(ascii: ")"))
    }

    /// Adds the row's write set to the batch: a hash of each unique key's value (the table alone
    /// for a table without one, which then conflicts with every write to it).
    /// `partialImage`: an update's after-image, which may leave out key columns that did not
    /// change (the before-image's hashes cover those).
    func addKeys(
        _ image: RowImage, binding: TableBinding, into batch: inout ApplyBatch, partialImage: Bool = false
    ) throws(BinlogError) {
        guard !binding.uniqueKeys.isEmpty else {
            batch.keys.append(binding.tableHash)
            return
        }
        var values = [UnsafeRawBufferPointer?](repeating: nil, count: binding.columnNames.count)
        var iterator = image.makeIterator()
        while let (index, _, bytes) = try iterator.nextWithBytes() { values[index] = bytes }
        for (number, key) in binding.uniqueKeys.enumerated() {
            var hasher = Hasher()
            hasher.combine(binding.tableHash)
            hasher.combine(number)
            var complete = true
            for column in key {
                guard let bytes = values[column] else {
                    complete = false
                    break
                }
                hasher.combine(bytes.count)
                hasher.combine(bytes: bytes)
            }
            if complete {
                batch.keys.append(hasher.finalize())
            } else if !partialImage {
                // A key the image does not hold whole: the table as a whole.
                batch.keys.append(binding.tableHash)
            }
        }
    }

    /// Runs a literal writer inside a decoding loop, carrying its error out as a decode error.
    func wrap<T>(_ body: () throws(ApplierError) -> T) throws(BinlogError) -> T {
        try Self.wrap(body)
    }

    static func wrap<T>(_ body: () throws(ApplierError) -> T) throws(BinlogError) -> T {
        do {
            return try body()
        } catch {
            throw BinlogError(.corrupt, error.message, offset: 0)
        }
    }
}

/// An update's before-image, its stored bytes per column at hand: an after-image column with the
/// same bytes did not change (``changed(_:to:_:binding:)``). One scratch space for all the rows
/// of an event.
struct BeforeImage {
    private(set) var image: RowImage?
    /// Per binlog column: its stored bytes (nil: not in the image) and whether it is NULL.
    private(set) var bytes: [UnsafeRawBufferPointer?]
    private var isNull: [Bool]

    init(columns: Int) {
        bytes = [UnsafeRawBufferPointer?](repeating: nil, count: columns)
        isNull = [Bool](repeating: false, count: columns)
    }

    mutating func read(_ image: RowImage) throws(BinlogError) {
        self.image = image
        for index in bytes.indices { bytes[index] = nil }
        var scan = image.makeIterator()
        while let (index, value, stored) = try scan.nextWithBytes() {
            bytes[index] = stored
            isNull[index] = value.isNull
        }
    }

    /// Whether after-image column `index` (`value`, stored as `after`) must be set: its bytes
    /// differ from the before-image's, or the target would change it itself in an UPDATE that
    /// does not (ON UPDATE CURRENT_TIMESTAMP).
    func changed(_ index: Int, to value: ColumnValue, _ after: UnsafeRawBufferPointer, binding: TableBinding) -> Bool {
        guard let old = bytes[index], isNull[index] == value.isNull, !binding.alwaysSet[index] else { return true }
        return !old.elementsEqual(after)
    }
}
