/// A row event (WRITE/UPDATE/DELETE_ROWS v1 and v2, PARTIAL_UPDATE_ROWS, MariaDB's compressed
/// variants): a view over the event's row data, iterated lazily.
///
/// Layout (MySQL internals, "ROWS_EVENT"): table_id (6 bytes), flags u16, in v2 the extra-data
/// length u16 (counting itself) and extra row info; then column count (packed), the
/// columns-present bitmap, for updates a second bitmap for the after-image, then the rows.
/// Each row image is a NULL bitmap over the present columns followed by the non-NULL values.
public struct RowsEvent {
    public enum Kind: String, Sendable {
        case insert, update, delete
    }

    public let type: EventType
    public let kind: Kind
    public let tableID: UInt64
    public let flags: UInt16
    /// v2 extra row info (NDB info, partition ids), raw.
    public let extraData: UnsafeRawBufferPointer
    public let columnCount: Int
    /// Columns present in the before-image (deletes, updates) or the only image (inserts).
    public let columnsPresent: Bitmap
    /// Columns present in the after-image of an update.
    public let columnsPresentAfter: Bitmap?
    /// The row images, decompressed for MariaDB's compressed row events.
    public let rowData: UnsafeRawBufferPointer
    /// The table map this event refers to, if the decoder has seen it.
    public let tableMap: TableMap?
    /// Offset of `rowData` in the stream, for errors (meaningless for decompressed data).
    let rowDataOffset: Int

    /// `STMT_END_F`: the last row event of a statement; table maps are released after it.
    public var isStatementEnd: Bool { flags & 0x1 != 0 }
    public var isPartialUpdate: Bool { type == .partialUpdateRows }

    /// Iterates the changed rows. Throws if the event has no table map or its bytes are wrong.
    public func rows() throws(BinlogError) -> RowIterator {
        guard let tableMap else {
            throw BinlogError(.corrupt, "row event refers to table id \(tableID) with no TABLE_MAP before it")
        }
        guard tableMap.columns.count == columnCount else {
            throw BinlogError(
                .corrupt,
                "row event has \(columnCount) columns but the TABLE_MAP of \(tableMap) has \(tableMap.columns.count)")
        }
        return RowIterator(event: self, tableMap: tableMap)
    }

    /// Number of rows, by walking the images (no values decoded into anything).
    public func rowCount() throws(BinlogError) -> Int {
        var iterator = try rows()
        var count = 0
        while try iterator.next() != nil { count += 1 }
        return count
    }
}

/// One changed row: the before-image (updates, deletes) and the after-image (inserts, updates).
public struct RowChange {
    public let before: RowImage?
    public let after: RowImage?
}

/// Walks the rows of a ``RowsEvent``.
public struct RowIterator {
    let event: RowsEvent
    let tableMap: TableMap
    var reader: ByteReader

    init(event: RowsEvent, tableMap: TableMap) {
        self.event = event
        self.tableMap = tableMap
        self.reader = ByteReader(event.rowData, baseOffset: event.rowDataOffset)
    }

    public mutating func next() throws(BinlogError) -> RowChange? {
        guard !reader.isAtEnd else { return nil }
        // A row that takes no bytes would repeat forever: only a corrupt bitmap leads there.
        guard event.columnsPresent.setBitCount > 0 else {
            throw BinlogError(
                .corrupt, "row event names no present columns but carries \(reader.remaining) bytes of rows",
                offset: reader.baseOffset + reader.position)
        }
        switch event.kind {
        case .insert:
            return RowChange(before: nil, after: try readImage(event.columnsPresent, isAfterImage: false))
        case .delete:
            return RowChange(before: try readImage(event.columnsPresent, isAfterImage: false), after: nil)
        case .update:
            let before = try readImage(event.columnsPresent, isAfterImage: false)
            let after = try readImage(event.columnsPresentAfter ?? event.columnsPresent, isAfterImage: true)
            return RowChange(before: before, after: after)
        }
    }

    private mutating func readImage(_ present: Bitmap, isAfterImage: Bool) throws(BinlogError) -> RowImage {
        var partialJSON: Bitmap?
        if isAfterImage && event.isPartialUpdate {
            // value_options (packed); bit 0 = PARTIAL_JSON_UPDATES, followed by one bit per JSON
            // column of the table, present in this image or not.
            let options = try reader.readLengthEncoded()
            if options & 1 != 0 {
                let count = tableMap.jsonColumnCount
                partialJSON = Bitmap(bytes: try reader.readBytes(Bitmap.byteCount(count), "partial JSON bitmap"), count: count)
            }
        }
        let presentCount = present.setBitCount
        let nulls = Bitmap(bytes: try reader.readBytes(Bitmap.byteCount(presentCount), "NULL bitmap"), count: presentCount)
        var image = RowImage(
            tableMap: tableMap, present: present, nulls: nulls, partialJSON: partialJSON,
            values: UnsafeRawBufferPointer(rebasing: reader.bytes[reader.position...]),
            valuesOffset: reader.baseOffset + reader.position)
        // Walk the values once to find where the image ends.
        var columns = image.makeIterator()
        while try columns.next() != nil {}
        let length = columns.reader.position
        image.values = UnsafeRawBufferPointer(rebasing: image.values[0..<length])
        reader.position += length
        return image
    }
}

/// One row image: the values of the present columns. A view over the event's bytes.
public struct RowImage {
    public let tableMap: TableMap
    /// Which of the table's columns this image holds.
    public let present: Bitmap
    /// NULL flags, one per present column.
    public let nulls: Bitmap
    /// For a partial-update after-image: which JSON columns hold diffs.
    public let partialJSON: Bitmap?
    /// The encoded non-NULL values.
    public internal(set) var values: UnsafeRawBufferPointer
    let valuesOffset: Int

    public func makeIterator() -> ColumnIterator { ColumnIterator(image: self) }

    /// Calls `body` with each present column's index in the table and its value.

    public func forEachColumn(_ body: (Int, ColumnValue) throws(BinlogError) -> Void) throws(BinlogError) {
        var iterator = makeIterator()
        while let (index, value) = try iterator.next() { try body(index, value) }
    }
}

/// Yields (column index, value) for each present column of a ``RowImage``.
public struct ColumnIterator {
    let image: RowImage
    var reader: ByteReader
    var column = 0
    var presentIndex = 0
    var jsonIndex = 0

    init(image: RowImage) {
        self.image = image
        self.reader = ByteReader(image.values, baseOffset: image.valuesOffset)
    }


    public mutating func next() throws(BinlogError) -> (Int, ColumnValue)? {
        let columns = image.tableMap.columns
        while column < columns.count {
            let index = column
            column += 1
            let info = columns[index]
            let isJSON = info.valueType == .json
            let partial: Bool
            if isJSON {
                partial = image.partialJSON.map { jsonIndex < $0.count && $0[jsonIndex] } ?? false
                jsonIndex += 1
            } else {
                partial = false
            }
            guard image.present[index] else { continue }
            let isNull = image.nulls[presentIndex]
            presentIndex += 1
            if isNull { return (index, .null) }
            do {
                return (index, try reader.readValue(info, isPartialJSON: partial))
            } catch {
                var error = error
                let name = info.name.map { "`\($0)`" } ?? "@\(index + 1)"
                error.message = "column \(name) (\(info.valueType)) of \(image.tableMap): " + error.message
                throw error
            }
        }
        return nil
    }
}
