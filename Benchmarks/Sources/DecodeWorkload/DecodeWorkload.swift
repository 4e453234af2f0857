import BinlogFormat

/// What one full decode of a binlog file went through.
public struct DecodeTotals: Sendable, Equatable {
    /// Bytes of the file.
    public var bytes = 0
    /// Events, counting those inside TRANSACTION_PAYLOAD events (and the payload event itself).
    public var events = 0
    public var rowEvents = 0
    /// Changed rows (an update's before and after image count as one row).
    public var rows = 0
    /// Column values visited, NULLs included, before and after images both counted.
    public var values = 0

    public init() {}
}

/// Decodes every event of a whole binlog file held in memory and every value of every row
/// image, as `mariadb-binlog -vv` does, with CRC32 verification on unless told otherwise.
/// Values are handed to ``sink(_:)`` so the optimizer cannot drop them; nothing is turned
/// into text.
@inline(never)
public func decodeEveryValue(
    _ bytes: UnsafeRawBufferPointer, file: String? = nil, verifiesChecksums: Bool = true
) throws(BinlogError) -> DecodeTotals {
    var totals = DecodeTotals()
    totals.bytes = bytes.count
    var reader = try BinlogFileReader(bytes: bytes, file: file, verifiesChecksums: verifiesChecksums)
    while let event = try reader.next() {
        totals.events += 1
        switch event.payload {
        case .rows(let rows):
            try visitEveryValue(of: rows, into: &totals)
        case .transactionPayload(let payload):
            try reader.decoder.forEachEvent(in: payload) { inner throws(BinlogError) in
                totals.events += 1
                if case .rows(let rows) = inner.payload {
                    try visitEveryValue(of: rows, into: &totals)
                }
            }
        default:
            sink(event.header)
        }
    }
    return totals
}

/// Iterates every column of every row image of one row event.
@inline(__always)
public func visitEveryValue(of rows: RowsEvent, into totals: inout DecodeTotals) throws(BinlogError) {
    totals.rowEvents += 1
    var iterator = try rows.rows()
    while let change = try iterator.next() {
        totals.rows += 1
        if let image = change.before { try visitEveryValue(of: image, into: &totals) }
        if let image = change.after { try visitEveryValue(of: image, into: &totals) }
    }
}

@inline(__always)
func visitEveryValue(of image: RowImage, into totals: inout DecodeTotals) throws(BinlogError) {
    var columns = image.makeIterator()
    while let (index, value) = try columns.next() {
        totals.values += 1
        sink(index)
        sink(value)
    }
}

/// The row events of a file whose row data lies in the file's own bytes (not decompressed,
/// not inside a TRANSACTION_PAYLOAD), with their table maps: lets a benchmark iterate rows
/// without decoding events.
public func collectRowEvents(_ bytes: UnsafeRawBufferPointer) throws(BinlogError) -> [RowsEvent] {
    var reader = try BinlogFileReader(bytes: bytes)
    var events: [RowsEvent] = []
    let range = UInt(bitPattern: bytes.baseAddress)..<(UInt(bitPattern: bytes.baseAddress) + UInt(bytes.count))
    while let event = try reader.next() {
        if case .rows(let rows) = event.payload, rows.tableMap != nil,
            range.contains(UInt(bitPattern: rows.rowData.baseAddress))
        {
            events.append(rows)
        }
    }
    return events
}

/// Keeps a value alive for the optimizer (package-benchmark's `blackHole` does the same).
@_optimize(none)
public func sink<T>(_ value: T) {}
