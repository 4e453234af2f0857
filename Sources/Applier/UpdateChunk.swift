import BinlogFormat

/// The updates of one row event, gathered into one statement per chunk of rows where that cannot
/// differ from updating them one by one:
///
///     UPDATE t SET c=CASE k WHEN o1 THEN v1 WHEN o2 THEN v2 END,k=CASE k WHEN o1 THEN n1 WHEN o2 THEN n2 END WHERE k IN (o1,o2)
///     UPDATE t SET c=CASE WHEN a=1 AND b='x' THEN v1 … END WHERE (a,b) IN ((1,'x'),…)     -- a key of several columns
///
/// A bulk UPDATE on the source logs one row per changed row. As a statement each, every row costs
/// the target a parse, a plan and an OK packet flushed to the socket; in a chunk of a few hundred
/// it costs the target about a seventh of that (Benchmarks/RESULTS.md).
///
/// The target changes a chunk's rows in its own order, and checks unique keys and foreign keys
/// row by row as it goes, so a row joins a chunk only where no order can matter:
/// - the row's before-image holds the table's key;
/// - no two rows of a chunk have the same old key, and no row's new key is another's old key or
///   new key (a key moving onto a key the chunk moves away would collide on the way);
/// - only key columns whose values are equal exactly when their bytes are (integers, dates and
///   times, ENUM, SET, BIT: not strings, which a collation may call equal, nor DECIMAL or floating
///   point, with their signed zeros) change, one column in a chunk (assigned last, so that every
///   other CASE still finds its rows by their old keys). Collisions are looked for on those
///   columns of the key alone, which can only find more of them than the target would;
/// - the row changes no column of another unique key, which could collide the same way;
/// - no foreign key of the table that references the table itself is checked (InnoDB checks
///   each row as it goes: a parent row changed before its child could fail);
/// - no partial JSON (a diff is an expression on the row's own value, written one row at a time);
/// - every column the chunk sets is in every row's after-image: each CASE names every row and has
///   no ELSE, so its type comes from literals of the column's one kind alone, as a plain
///   assignment's would.
/// Other rows go one statement each, between the chunks, in their order.
struct UpdateChunk {
    let binding: TableBinding
    let key: [Int]
    /// Per binlog column: a column of the key whose values are equal exactly when their bytes are
    /// (which a row of the chunk may change).
    let exactKeyColumn: [Bool]
    /// Per binlog column: part of a unique key other than the one that finds rows.
    let otherUniqueColumn: [Bool]
    let maxRows: Int
    let maxBytes: Int

    /// The rows of the current event, as images (valid while their event is).
    private(set) var rows: [(before: RowImage, after: RowImage)] = []
    /// Rows of earlier events, already written as text into ``cases`` and ``keyList`` (see
    /// ``write(into:keepingRows:)``): a chunk continued by the next event of its table.
    private(set) var renderedRows = 0
    /// The old keys of the rendered rows: `k IN (…)`'s items.
    private var keyList = SQLText()
    /// The rows' old keys, whole: no row twice in a chunk.
    private var oldKeys: Set<Int> = []
    /// The key's exact columns of every row's old key, and of the new key of every row that
    /// changes it (see ``Row``).
    private var oldExactKeys: Set<Int> = []
    private var newExactKeys: Set<Int> = []
    /// The key column the chunk changes, if any.
    private var changedKeyColumn: Int?
    /// Per column: set by the chunk's statement (changed in some row, or set by every UPDATE).
    private var setColumns: [Bool]
    /// Per column: in the after-image of every row so far.
    private var inEveryAfterImage: [Bool]
    /// Per row and column (flat): a bound on the column's literal in the after-image, in bytes.
    private var literalBytes: [Int] = []
    private var estimatedBytes = 0
    private(set) var permissive = false
    /// One CASE's `WHEN … THEN …` list per column, reused from chunk to chunk.
    private var cases: [SQLText]

    /// What one row needs, worked out once from its images.
    struct Row {
        var fits = true
        var changed: [Bool]
        /// Hash of the old key's bytes, every column.
        var oldKey = 0
        /// Hashes of the key's exact columns, before and after.
        var oldExactKey = 0
        var newExactKey = 0
        /// The key column the row changes (nil: its key stays).
        var changedKeyColumn: Int?
        /// A bound on the old key's literals (each CASE repeats them), in bytes.
        var keyLiteralBytes = 0
        var permissive = false
    }
    private(set) var row: Row

    /// nil when the table cannot take multi-row updates at all.
    /// `maxRows`: each CASE is evaluated by comparing with its WHENs one after another, so the cost
    /// of a row grows with the chunk: 200,000 rows' UPDATE took the target 0.81 s of CPU in
    /// chunks of 32, 0.75 s in chunks of 128, 0.87 s of 256, 1.13 s of 512.
    init?(binding: TableBinding, foreignKeysChecked: Bool, maxRows: Int = 128, maxBytes: Int) {
        guard !binding.key.isEmpty, !(foreignKeysChecked && binding.target.referencesItself) else { return nil }
        self.binding = binding
        key = binding.key
        let count = binding.columnNames.count
        var exact = [Bool](repeating: false, count: count)
        for column in key {
            switch binding.tableMap.columns[column].valueType {
            case .tiny, .short, .int24, .long, .longlong, .year, .date, .newdate, .time, .time2, .datetime, .datetime2,
                .timestamp, .timestamp2, .enum, .set, .bit:
                exact[column] = true
            default: break
            }
        }
        exactKeyColumn = exact
        var other = [Bool](repeating: false, count: count)
        for uniqueKey in binding.uniqueKeys where uniqueKey != binding.key {
            for column in uniqueKey { other[column] = true }
        }
        otherUniqueColumn = other
        self.maxRows = maxRows
        self.maxBytes = maxBytes
        setColumns = [Bool](repeating: false, count: count)
        inEveryAfterImage = [Bool](repeating: true, count: count)
        cases = [SQLText](repeating: SQLText(), count: count)
        row = Row(changed: [Bool](repeating: false, count: count))
    }

    var isEmpty: Bool { rows.isEmpty && renderedRows == 0 }

    /// Works out `row` for an update's images (`before` read); `row.fits` says whether it may
    /// join a chunk.
    mutating func examine(before: BeforeImage, after: RowImage, rowLiteralBytes: inout [Int]) throws(BinlogError) {
        for index in rowLiteralBytes.indices {
            row.changed[index] = false
            rowLiteralBytes[index] = 0
        }
        row.fits = true
        row.changedKeyColumn = nil
        row.permissive = false
        let beforeBytes = before.bytes
        var whole = Hasher()
        var exactParts = Hasher()
        row.keyLiteralBytes = 0
        for column in key {
            guard let bytes = beforeBytes[column] else {
                row.fits = false
                return
            }
            whole.combine(bytes.count)
            whole.combine(bytes: bytes)
            row.keyLiteralBytes += 2 * bytes.count + 24 + binding.columnNames[column].count + 6
            if exactKeyColumn[column] { exactParts.combine(bytes: bytes) }
        }
        row.oldKey = whole.finalize()
        row.oldExactKey = exactParts.finalize()
        var newKeyBytes: UnsafeRawBufferPointer?
        var iterator = after.makeIterator()
        while let (index, value, bytes) = try iterator.nextWithBytes() {
            guard binding.writable[index] else { continue }
            // Escaping at most doubles a string; a number's or a date's text is at most ~24 more.
            rowLiteralBytes[index] = 2 * bytes.count + 24
            if case .jsonDiff = value { row.fits = false }
            if RowStatements.isEnumZero(value) { row.permissive = true }
            guard before.changed(index, to: value, bytes, binding: binding) else { continue }
            row.changed[index] = true
            if otherUniqueColumn[index] { row.fits = false }
            if key.contains(index) {
                if row.changedKeyColumn != nil || !exactKeyColumn[index] { row.fits = false }
                row.changedKeyColumn = index
                newKeyBytes = bytes
            }
        }
        guard row.fits, let changed = row.changedKeyColumn else { return }
        // The new key's exact columns, in the key's order (the changed one from the after-image).
        var newExactParts = Hasher()
        for column in key where exactKeyColumn[column] {
            if let bytes = column == changed ? newKeyBytes : beforeBytes[column] { newExactParts.combine(bytes: bytes) }
        }
        row.newExactKey = newExactParts.finalize()
    }

    /// Whether the examined row can join this chunk as it is (see the type's rules).
    func accepts(after: RowImage, rowLiteralBytes: [Int]) -> Bool {
        guard rows.count + renderedRows < maxRows, !oldKeys.contains(row.oldKey), !newExactKeys.contains(row.oldExactKey) else { return false }
        if let column = row.changedKeyColumn {
            if let chunkColumn = changedKeyColumn, chunkColumn != column { return false }
            if oldExactKeys.contains(row.newExactKey) || newExactKeys.contains(row.newExactKey) { return false }
        }
        let present = after.present
        var added = 0
        for index in setColumns.indices {
            let needed = setColumns[index] || row.changed[index]
            guard needed else { continue }
            if !present[index] || !inEveryAfterImage[index] { return false }
            // A column set for the first time needs every earlier row's value: gone for rendered rows.
            if !setColumns[index] && renderedRows > 0 { return false }
            added += rowLiteralBytes[index] + row.keyLiteralBytes + 12
            if !setColumns[index] {
                for earlier in rows.indices { added += literalBytes[earlier * setColumns.count + index] + row.keyLiteralBytes + 12 }
            }
        }
        return isEmpty || estimatedBytes + added <= maxBytes
    }

    /// Adds the examined row (after ``accepts(after:rowLiteralBytes:)``).
    mutating func add(before: RowImage, after: RowImage, rowLiteralBytes: [Int]) {
        let present = after.present
        for index in setColumns.indices {
            if !present[index] { inEveryAfterImage[index] = false }
            if row.changed[index] && !setColumns[index] {
                setColumns[index] = true
                for earlier in rows.indices { estimatedBytes += literalBytes[earlier * setColumns.count + index] + row.keyLiteralBytes + 12 }
            }
            if setColumns[index] { estimatedBytes += rowLiteralBytes[index] + row.keyLiteralBytes + 12 }
        }
        estimatedBytes += row.keyLiteralBytes
        literalBytes.append(contentsOf: rowLiteralBytes)
        rows.append((before, after))
        oldKeys.insert(row.oldKey)
        oldExactKeys.insert(row.oldExactKey)
        if let column = row.changedKeyColumn {
            newExactKeys.insert(row.newExactKey)
            changedKeyColumn = column
        }
        if row.permissive { permissive = true }
    }

    /// Writes the current event's rows into ``cases`` and ``keyList``: after this the chunk
    /// holds nothing of the event's bytes.
    private mutating func renderRows() throws(BinlogError) {
        let names = binding.columnNames
        let single = key.count == 1
        var condition = SQLText()
        for (before, after) in rows {
            // The old key: `k IN (…)`'s item and `WHEN …`'s condition.
            if keyList.count > 0 { keyList.append(byte: UInt8(ascii: ",")) }
            if !single { keyList.append(byte: UInt8(ascii: "(")) }
            condition.removeAll()
            var first = true
            var scan = before.makeIterator()
            while let (index, value) = try scan.next() {
                guard key.contains(index) else { continue }
                let start = keyList.count
                if !first { keyList.append(byte: UInt8(ascii: ",")) }
                try literal(value, column: index, into: &keyList)
                if !single {
                    if !first { condition.append(" AND ") }
                    condition.append(names[index])
                    condition.append(byte: UInt8(ascii: "="))
                }
                condition.bytes.append(contentsOf: keyList.bytes[(first ? start : start + 1)...])
                first = false
            }
            if !single { keyList.append(byte: UInt8(ascii: ")")) }
            var iterator = after.makeIterator()
            while let (index, value) = try iterator.next() {
                guard setColumns[index] else { continue }
                cases[index].append(" WHEN ")
                cases[index].append(condition.bytes)
                cases[index].append(" THEN ")
                try literal(value, column: index, into: &cases[index])
            }
        }
        renderedRows += rows.count
        rows.removeAll(keepingCapacity: true)
        literalBytes.removeAll(keepingCapacity: true)
    }

    /// Writes the chunk as one UPDATE. Returns the rows it must find. `keepingRows`: the chunk
    /// stays as it is, its rows rendered, for the next event of the table to continue
    /// (``RowStatements``, which then writes the statement again with the rows added);
    /// otherwise it is emptied.
    mutating func write(into sql: inout SQLText, keepingRows: Bool = false) throws(BinlogError) -> UInt64 {
        let names = binding.columnNames
        let single = key.count == 1
        try renderRows()
        sql.append("UPDATE ")
        sql.append(binding.qualifiedName)
        sql.append(" SET ")
        // The key column last: MySQL and MariaDB assign left to right, and every other CASE must
        // find its rows by their old keys.
        var order = setColumns.indices.filter { setColumns[$0] && $0 != changedKeyColumn }
        if let changedKeyColumn { order.append(changedKeyColumn) }
        if order.isEmpty {
            // Nothing changed: still find the rows (a missing one means the copy diverged).
            sql.append(names[key[0]])
            sql.append(byte: UInt8(ascii: "="))
            sql.append(names[key[0]])
        }
        for (position, index) in order.enumerated() {
            if position > 0 { sql.append(byte: UInt8(ascii: ",")) }
            sql.append(names[index])
            sql.append("=CASE")
            if single {
                sql.append(byte: UInt8(ascii: " "))
                sql.append(names[key[0]])
            }
            sql.append(cases[index].bytes)
            sql.append(" END")
        }
        sql.append(" WHERE ")
        RowStatements.appendKeyColumns(binding, into: &sql)
        sql.append(" IN (")
        sql.append(keyList.bytes)
        sql.append(byte: UInt8(ascii: ")"))
        let count = UInt64(renderedRows)
        if !keepingRows { reset() }
        return count
    }

    private func literal(_ value: ColumnValue, column: Int, into sql: inout SQLText) throws(BinlogError) {
        try RowStatements.wrap { () throws(ApplierError) in
            try SQLLiteral.write(value, unsigned: binding.unsigned[column], padTo: binding.padLength[column], into: &sql)
        }
    }

    mutating func reset() {
        rows.removeAll(keepingCapacity: true)
        renderedRows = 0
        keyList.removeAll()
        oldKeys.removeAll(keepingCapacity: true)
        oldExactKeys.removeAll(keepingCapacity: true)
        newExactKeys.removeAll(keepingCapacity: true)
        changedKeyColumn = nil
        literalBytes.removeAll(keepingCapacity: true)
        for index in setColumns.indices {
            setColumns[index] = false
            inEveryAfterImage[index] = true
            cases[index].removeAll()
        }
        estimatedBytes = 0
        permissive = false
    }
}
