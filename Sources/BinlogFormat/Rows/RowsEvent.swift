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

    // Stored as pointers and 32-bit counts (row data and bitmaps come from one event, under
    // 4 GiB) so that the event stays at 72 bytes: see ``BinlogEvent``.
    public let type: EventType
    public let kind: Kind
    public let flags: UInt16
    let storedColumnCount: UInt32
    public let tableID: UInt64
    let extraDataStart: UnsafeRawPointer?
    let columnsPresentStart: UnsafeRawPointer?
    let columnsPresentAfterStart: UnsafeRawPointer?
    let rowDataStart: UnsafeRawPointer?
    let rowDataCount: UInt32
    let extraDataCount: UInt16
    /// The table map this event refers to, if the decoder has seen it.
    public let tableMap: TableMap?
    /// Offset of `rowData` in the stream, for errors (meaningless for decompressed data).
    let rowDataOffset: Int

    /// v2 extra row info (NDB info, partition ids), raw.
    public var extraData: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: extraDataStart, count: Int(extraDataCount))
    }

    public var columnCount: Int { Int(storedColumnCount) }

    /// Columns present in the before-image (deletes, updates) or the only image (inserts).
    public var columnsPresent: Bitmap {
        Bitmap(bytes: UnsafeRawBufferPointer(start: columnsPresentStart, count: Bitmap.byteCount(columnCount)), count: columnCount)
    }

    /// Columns present in the after-image of an update.
    public var columnsPresentAfter: Bitmap? {
        guard kind == .update else { return nil }
        return Bitmap(
            bytes: UnsafeRawBufferPointer(start: columnsPresentAfterStart, count: Bitmap.byteCount(columnCount)),
            count: columnCount)
    }

    /// The row images, decompressed for MariaDB's compressed row events.
    public var rowData: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: rowDataStart, count: Int(rowDataCount)) }

    /// `columnCount` and the sizes of `extraData` and `rowData` must fit their 32- and 16-bit
    /// fields (the decoder checks).
    init(
        type: EventType, kind: Kind, tableID: UInt64, flags: UInt16, extraData: UnsafeRawBufferPointer, columnCount: Int,
        columnsPresent: Bitmap, columnsPresentAfter: Bitmap?, rowData: UnsafeRawBufferPointer, tableMap: TableMap?,
        rowDataOffset: Int
    ) {
        self.type = type
        self.kind = kind
        self.flags = flags
        self.storedColumnCount = UInt32(columnCount)
        self.tableID = tableID
        self.extraDataStart = extraData.baseAddress
        self.columnsPresentStart = columnsPresent.bytes.baseAddress
        self.columnsPresentAfterStart = columnsPresentAfter?.bytes.baseAddress
        self.rowDataStart = rowData.baseAddress
        self.rowDataCount = UInt32(rowData.count)
        self.extraDataCount = UInt16(extraData.count)
        self.tableMap = tableMap
        self.rowDataOffset = rowDataOffset
    }

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
///
/// A view, like the values it holds: valid only as long as the event it came from (see
/// ``RowImage``).
public struct RowChange {
    let beforeBytes: ImageBytes
    let afterBytes: ImageBytes
    /// Bit 0: has a before-image; bit 1: has an after-image.
    let images: UInt8

    public var before: RowImage? { images & 1 != 0 ? RowImage(bytes: beforeBytes) : nil }
    public var after: RowImage? { images & 2 != 0 ? RowImage(bytes: afterBytes) : nil }
}

/// Walks the rows of a ``RowsEvent``.
public struct RowIterator {
    /// Keeps the table map alive for the views this iterator hands out.
    let event: RowsEvent
    let tableMap: TableMap
    var reader: ByteReader
    /// Set bits of the columns-present bitmaps (before or only image, after-image of updates).
    let presentCount: Int
    let presentAfterCount: Int

    init(event: RowsEvent, tableMap: TableMap) {
        self.event = event
        self.tableMap = tableMap
        self.reader = ByteReader(event.rowData, baseOffset: event.rowDataOffset)
        self.presentCount = event.columnsPresent.setBitCount
        self.presentAfterCount = event.columnsPresentAfter?.setBitCount ?? presentCount
    }

    public mutating func next() throws(BinlogError) -> RowChange? {
        guard !reader.isAtEnd else { return nil }
        // A row that takes no bytes would repeat forever: only a corrupt bitmap leads there.
        guard presentCount > 0 else {
            throw BinlogError(
                .corrupt, "row event names no present columns but carries \(reader.remaining) bytes of rows",
                offset: reader.baseOffset + reader.position)
        }
        let present = event.columnsPresent.bytes.baseAddress
        switch event.kind {
        case .insert:
            let image = try readImage(present, presentCount, isAfterImage: false)
            return RowChange(beforeBytes: image, afterBytes: image, images: 2)
        case .delete:
            let image = try readImage(present, presentCount, isAfterImage: false)
            return RowChange(beforeBytes: image, afterBytes: image, images: 1)
        case .update:
            let before = try readImage(present, presentCount, isAfterImage: false)
            let after = try readImage(
                event.columnsPresentAfter?.bytes.baseAddress ?? present, presentAfterCount, isAfterImage: true)
            return RowChange(beforeBytes: before, afterBytes: after, images: 3)
        }
    }

    private mutating func readImage(_ present: UnsafeRawPointer?, _ presentCount: Int, isAfterImage: Bool)
        throws(BinlogError) -> ImageBytes
    {
        var hasPartialJSON = false
        if isAfterImage && event.isPartialUpdate {
            // value_options (packed); bit 0 = PARTIAL_JSON_UPDATES, followed by one bit per JSON
            // column of the table, present in this image or not (right before the NULL bitmap).
            let options = try reader.readLengthEncoded()
            if options & 1 != 0 {
                try reader.skip(Bitmap.byteCount(tableMap.jsonColumnCount), "partial JSON bitmap")
                hasPartialJSON = true
            }
        }
        let nulls = try reader.readBytes(Bitmap.byteCount(presentCount), "NULL bitmap").baseAddress
        let layouts = tableMap.layouts
        var image = ImageBytes(
            tableMap: tableMap, layouts: layouts.baseAddress, present: present, nulls: nulls,
            valuesOffset: reader.baseOffset + reader.position, columnCount: UInt32(truncatingIfNeeded: layouts.count),
            presentCount: UInt32(truncatingIfNeeded: presentCount), valuesCount: 0, hasPartialJSON: hasPartialJSON)
        // Row data is at most 4 GiB (an event, or a decompressed body with a 4-byte length).
        let available = UInt32(truncatingIfNeeded: Swift.min(reader.remaining, Int(UInt32.max)))
        image.valuesCount = available
        let length = try image.measureValues()
        image.valuesCount = UInt32(truncatingIfNeeded: length)
        reader.position += length
        return image
    }
}

/// Where one row image lies in the event's bytes: pointers and counts, and the table map
/// without a counted reference, so copying a ``RowChange`` or ``RowImage`` moves a few words.
struct ImageBytes {
    #if DEBUG
    unowned let tableMap: TableMap
    #else
    unowned(unsafe) let tableMap: TableMap
    #endif
    /// The table map's column layouts (`columnCount` of them).
    let layouts: UnsafePointer<ColumnLayout>?
    /// The columns-present bitmap: one bit per table column (`columnCount`).
    let present: UnsafeRawPointer?
    /// The NULL bitmap: one bit per present column (`presentCount`); the values follow it, and
    /// the partial-JSON bitmap (one bit per JSON column of the table) precedes it if `hasPartialJSON`.
    let nulls: UnsafeRawPointer?
    /// Where the values start in the file or stream, for errors.
    let valuesOffset: Int
    let columnCount: UInt32
    let presentCount: UInt32
    var valuesCount: UInt32
    let hasPartialJSON: Bool

    /// The partial-JSON bitmap, when `hasPartialJSON`.
    var partialJSON: UnsafeRawPointer? {
        nulls.map { $0 - Bitmap.byteCount(tableMap.jsonColumnCount) }
    }

    /// The encoded non-NULL values (right after the NULL bitmap).
    var values: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: nulls.map { $0 + Bitmap.byteCount(Int(presentCount)) }, count: Int(valuesCount))
    }

    @inline(__always)
    static func bit(_ bytes: UnsafeRawPointer?, _ index: Int) -> Bool {
        // Callers stay below the bitmap's bit count, which was bounds-checked when it was read.
        bytes.unsafelyUnwrapped.load(fromByteOffset: index &>> 3, as: UInt8.self) &>> UInt8(truncatingIfNeeded: index & 7)
            & 1 != 0
    }

    /// Where the image's values end within the `valuesCount` bytes available, found from the
    /// lengths alone: fixed-size values are stepped over by their width, length-prefixed ones
    /// by reading only the prefix.
    func measureValues() throws(BinlogError) -> Int {
        let values = self.values
        let end = values.count
        var position = 0
        var presentIndex = 0
        for column in 0..<Int(columnCount) where ImageBytes.bit(present, column) {
            let isNull = ImageBytes.bit(nulls, presentIndex)
            presentIndex &+= 1
            if isNull { continue }
            let layout = layouts.unsafelyUnwrapped[column]
            let width = Int(layout.width)
            switch layout.measure {
            case .fixed:
                position &+= width
            case .prefixed:
                guard width <= end &- position else { return try measureByDecoding() }
                position &+= width &+ Int(values.loadLittleEndian(at: position, width: width))
            case .invalid:
                return try measureByDecoding()
            }
        }
        guard position <= end else { return try measureByDecoding() }
        return position
    }

    /// Decodes every value to find the end: for images whose lengths do not add up, so that the
    /// error names the column and the cause exactly as iterating the values would.
    private func measureByDecoding() throws(BinlogError) -> Int {
        var columns = ColumnIterator(image: self)
        while try columns.next() != nil {}
        return columns.reader.position
    }
}

/// One row image: the values of the present columns. A view over the event's bytes.
///
/// Valid only as long as the event it came from, like the values it yields: it refers to the
/// event's bytes and, without keeping it alive, to its ``TableMap`` (which the ``RowsEvent`` and
/// the decoder hold). Not counting references per row is a large part of the decoder's speed.
/// Debug builds check the table map reference and trap on a use after the map is gone.
public struct RowImage {
    let bytes: ImageBytes

    public var tableMap: TableMap { bytes.tableMap }

    /// Which of the table's columns this image holds.
    public var present: Bitmap {
        let count = Int(bytes.columnCount)
        return Bitmap(bytes: UnsafeRawBufferPointer(start: bytes.present, count: Bitmap.byteCount(count)), count: count)
    }

    /// NULL flags, one per present column.
    public var nulls: Bitmap {
        let count = Int(bytes.presentCount)
        return Bitmap(bytes: UnsafeRawBufferPointer(start: bytes.nulls, count: Bitmap.byteCount(count)), count: count)
    }

    /// For a partial-update after-image: which JSON columns hold diffs.
    public var partialJSON: Bitmap? {
        guard bytes.hasPartialJSON else { return nil }
        let count = tableMap.jsonColumnCount
        return Bitmap(bytes: UnsafeRawBufferPointer(start: bytes.partialJSON, count: Bitmap.byteCount(count)), count: count)
    }

    /// The encoded non-NULL values.
    public var values: UnsafeRawBufferPointer { bytes.values }

    public func makeIterator() -> ColumnIterator { ColumnIterator(image: bytes) }

    /// Calls `body` with each present column's index in the table and its value.
    public func forEachColumn(_ body: (Int, ColumnValue) throws(BinlogError) -> Void) throws(BinlogError) {
        var iterator = makeIterator()
        while let (index, value) = try iterator.next() { try body(index, value) }
    }
}

/// Yields (column index, value) for each present column of a ``RowImage``. Valid as long as
/// the image is.
public struct ColumnIterator {
    let image: ImageBytes
    var reader: ByteReader
    var column = 0
    var presentIndex = 0

    init(image: ImageBytes) {
        self.image = image
        self.reader = ByteReader(image.values, baseOffset: image.valuesOffset)
    }

    public mutating func next() throws(BinlogError) -> (Int, ColumnValue)? {
        while column < Int(image.columnCount) {
            let index = column
            column &+= 1
            guard ImageBytes.bit(image.present, index) else { continue }
            let isNull = ImageBytes.bit(image.nulls, presentIndex)
            presentIndex &+= 1
            if isNull { return (index, .null) }
            let layout = image.layouts.unsafelyUnwrapped[index]
            var partial = false
            if image.hasPartialJSON && layout.jsonOrdinal >= 0 {
                // The bitmap has a bit for every JSON column of the table (jsonOrdinal counts them).
                partial = ImageBytes.bit(image.partialJSON, Int(layout.jsonOrdinal))
            }
            do {
                return (index, try reader.readValue(layout, isPartialJSON: partial))
            } catch {
                throw named(error, column: index)
            }
        }
        return nil
    }

    /// Like ``next()``, with the value's bytes as stored in the image (empty for NULL): two
    /// images hold the same value in a column exactly when these bytes (and NULL-ness) are equal.
    public mutating func nextWithBytes() throws(BinlogError) -> (Int, ColumnValue, UnsafeRawBufferPointer)? {
        let start = reader.position
        guard let (index, value) = try next() else { return nil }
        return (index, value, UnsafeRawBufferPointer(rebasing: reader.bytes[start..<reader.position]))
    }

    /// Puts the column and table in front of a value's error.
    private func named(_ error: BinlogError, column index: Int) -> BinlogError {
        var error = error
        let tableMap = image.tableMap
        let info = tableMap.columns[index]
        let name = info.name.map { "`\($0)`" } ?? "@\(index + 1)"
        error.message = "column \(name) (\(info.valueType)) of \(tableMap): " + error.message
        return error
    }
}
