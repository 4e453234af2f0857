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
///
/// A view, like the values it holds: valid only as long as the event it came from (see
/// ``RowImage``).
public struct RowChange {
    #if DEBUG
    unowned let tableMap: TableMap
    #else
    unowned(unsafe) let tableMap: TableMap
    #endif
    let beforeBytes: ImageBytes
    let afterBytes: ImageBytes
    /// Bit 0: has a before-image; bit 1: has an after-image.
    let images: UInt8

    public var before: RowImage? {
        images & 1 != 0 ? RowImage(tableMap: tableMap, bytes: beforeBytes) : nil
    }

    public var after: RowImage? {
        images & 2 != 0 ? RowImage(tableMap: tableMap, bytes: afterBytes) : nil
    }
}

/// Walks the rows of a ``RowsEvent``.
public struct RowIterator {
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
            return RowChange(tableMap: tableMap, beforeBytes: image, afterBytes: image, images: 2)
        case .delete:
            let image = try readImage(present, presentCount, isAfterImage: false)
            return RowChange(tableMap: tableMap, beforeBytes: image, afterBytes: image, images: 1)
        case .update:
            let before = try readImage(present, presentCount, isAfterImage: false)
            let after = try readImage(
                event.columnsPresentAfter?.bytes.baseAddress ?? present, presentAfterCount, isAfterImage: true)
            return RowChange(tableMap: tableMap, beforeBytes: before, afterBytes: after, images: 3)
        }
    }

    private mutating func readImage(_ present: UnsafeRawPointer?, _ presentCount: Int, isAfterImage: Bool)
        throws(BinlogError) -> ImageBytes
    {
        var partialJSON: UnsafeRawPointer?
        var hasPartialJSON = false
        if isAfterImage && event.isPartialUpdate {
            // value_options (packed); bit 0 = PARTIAL_JSON_UPDATES, followed by one bit per JSON
            // column of the table, present in this image or not.
            let options = try reader.readLengthEncoded()
            if options & 1 != 0 {
                let count = tableMap.jsonColumnCount
                partialJSON = try reader.readBytes(Bitmap.byteCount(count), "partial JSON bitmap").baseAddress
                hasPartialJSON = true
            }
        }
        let nulls = try reader.readBytes(Bitmap.byteCount(presentCount), "NULL bitmap").baseAddress
        var image = ImageBytes(
            present: present, nulls: nulls, partialJSON: partialJSON, hasPartialJSON: hasPartialJSON,
            presentCount: presentCount, values: UnsafeRawBufferPointer(rebasing: reader.bytes[reader.position...]),
            valuesOffset: reader.baseOffset + reader.position)
        let length = try image.measureValues(tableMap)
        image.values = UnsafeRawBufferPointer(rebasing: image.values[0..<length])
        reader.position += length
        return image
    }
}

/// Where one row image lies in the event's bytes. Holds no references, so copying it is a
/// plain move (``RowChange`` and ``ColumnIterator`` keep the table map beside it).
struct ImageBytes {
    /// The columns-present bitmap: one bit per table column.
    var present: UnsafeRawPointer?
    /// The NULL bitmap: one bit per present column (`presentCount`).
    var nulls: UnsafeRawPointer?
    /// The partial-JSON bitmap (one bit per JSON column of the table), if `hasPartialJSON`.
    var partialJSON: UnsafeRawPointer?
    var hasPartialJSON: Bool
    var presentCount: Int
    var values: UnsafeRawBufferPointer
    var valuesOffset: Int

    @inline(__always)
    static func bit(_ bytes: UnsafeRawPointer?, _ index: Int) -> Bool {
        // Callers stay below the bitmap's bit count, which was bounds-checked when it was read.
        bytes.unsafelyUnwrapped.load(fromByteOffset: index &>> 3, as: UInt8.self) &>> UInt8(truncatingIfNeeded: index & 7)
            & 1 != 0
    }

    /// Where the image's values end, found from the lengths alone: fixed-size values are
    /// stepped over by their width, length-prefixed ones by reading only the prefix.
    func measureValues(_ tableMap: TableMap) throws(BinlogError) -> Int {
        let layouts = tableMap.layouts
        let end = values.count
        var position = 0
        var presentIndex = 0
        for column in 0..<layouts.count where ImageBytes.bit(present, column) {
            let isNull = ImageBytes.bit(nulls, presentIndex)
            presentIndex &+= 1
            if isNull { continue }
            let layout = layouts[column]
            let width = Int(layout.width)
            switch layout.measure {
            case .fixed:
                position &+= width
            case .prefixed:
                guard width <= end &- position else { return try measureByDecoding(tableMap) }
                position &+= width &+ Int(values.loadLittleEndian(at: position, width: width))
            case .invalid:
                return try measureByDecoding(tableMap)
            }
        }
        guard position <= end else { return try measureByDecoding(tableMap) }
        return position
    }

    /// Decodes every value to find the end: for images whose lengths do not add up, so that the
    /// error names the column and the cause exactly as iterating the values would.
    private func measureByDecoding(_ tableMap: TableMap) throws(BinlogError) -> Int {
        var columns = ColumnIterator(tableMap: tableMap, image: self)
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
    #if DEBUG
    public unowned let tableMap: TableMap
    #else
    public unowned(unsafe) let tableMap: TableMap
    #endif
    let bytes: ImageBytes

    /// Which of the table's columns this image holds.
    public var present: Bitmap {
        let count = tableMap.layouts.count
        return Bitmap(bytes: UnsafeRawBufferPointer(start: bytes.present, count: Bitmap.byteCount(count)), count: count)
    }

    /// NULL flags, one per present column.
    public var nulls: Bitmap {
        Bitmap(
            bytes: UnsafeRawBufferPointer(start: bytes.nulls, count: Bitmap.byteCount(bytes.presentCount)),
            count: bytes.presentCount)
    }

    /// For a partial-update after-image: which JSON columns hold diffs.
    public var partialJSON: Bitmap? {
        guard bytes.hasPartialJSON else { return nil }
        let count = tableMap.jsonColumnCount
        return Bitmap(bytes: UnsafeRawBufferPointer(start: bytes.partialJSON, count: Bitmap.byteCount(count)), count: count)
    }

    /// The encoded non-NULL values.
    public var values: UnsafeRawBufferPointer { bytes.values }

    public func makeIterator() -> ColumnIterator { ColumnIterator(tableMap: tableMap, image: bytes) }

    /// Calls `body` with each present column's index in the table and its value.
    public func forEachColumn(_ body: (Int, ColumnValue) throws(BinlogError) -> Void) throws(BinlogError) {
        var iterator = makeIterator()
        while let (index, value) = try iterator.next() { try body(index, value) }
    }
}

/// Yields (column index, value) for each present column of a ``RowImage``. Valid as long as
/// the image is.
public struct ColumnIterator {
    #if DEBUG
    unowned let tableMap: TableMap
    #else
    unowned(unsafe) let tableMap: TableMap
    #endif
    let image: ImageBytes
    /// The table map's layouts, kept alive by `tableMap`.
    let layouts: UnsafeBufferPointer<ColumnLayout>
    var reader: ByteReader
    var column = 0
    var presentIndex = 0

    init(tableMap: TableMap, image: ImageBytes) {
        self.tableMap = tableMap
        self.image = image
        self.layouts = tableMap.layouts
        self.reader = ByteReader(image.values, baseOffset: image.valuesOffset)
    }

    public mutating func next() throws(BinlogError) -> (Int, ColumnValue)? {
        while column < layouts.count {
            let index = column
            column &+= 1
            guard ImageBytes.bit(image.present, index) else { continue }
            let isNull = ImageBytes.bit(image.nulls, presentIndex)
            presentIndex &+= 1
            if isNull { return (index, .null) }
            let layout = layouts[index]
            var partial = false
            if image.hasPartialJSON && layout.jsonOrdinal >= 0 {
                let ordinal = Int(layout.jsonOrdinal)
                partial = ordinal < tableMap.jsonColumnCount && ImageBytes.bit(image.partialJSON, ordinal)
            }
            do {
                return (index, try reader.readValue(layout, isPartialJSON: partial))
            } catch {
                throw named(error, column: index)
            }
        }
        return nil
    }

    private func named(_ error: BinlogError, column index: Int) -> BinlogError {
        var error = error
        let info = tableMap.columns[index]
        let name = info.name.map { "`\($0)`" } ?? "@\(index + 1)"
        error.message = "column \(name) (\(info.valueType)) of \(tableMap): " + error.message
        return error
    }
}
