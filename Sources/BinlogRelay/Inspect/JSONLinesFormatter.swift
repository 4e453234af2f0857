import BinlogFormat

/// `inspect --format jsonl`: one JSON object per event (DESIGN.md: `type`, `position`,
/// `timestamp`, `server_id`, and for row events `schema`, `table`, `rows` with
/// `before`/`after` column values).
///
/// Bytes are appended directly (no String per value); each table's `"column":` keys are
/// escaped once and reused for every row.
struct JSONLinesFormatter: EventFormatter {
    let keys = ColumnTextCache { map, index, output in
        if let name = map.columns[index].name {
            JSONLinesFormatter.writeString(name, into: &output)
        } else {
            output.append("\"@")
            output.appendDecimal(index + 1)
            output.append(UInt8(ascii: "\""))
        }
        output.append(UInt8(ascii: ":"))
    }

    func write(_ event: BinlogEvent, decoder: inout BinlogDecoder, into output: inout [UInt8]) throws(BinlogError) {
        let header = event.header
        output.append("{\"type\":\"")
        output.appendString(header.type.name)
        output.append("\",\"position\":")
        output.appendDecimal(event.offset)
        output.append(",\"timestamp\":")
        output.appendDecimal(header.timestamp)
        output.append(",\"server_id\":")
        output.appendDecimal(header.serverID)
        output.append(",\"size\":")
        output.appendDecimal(header.eventSize)
        output.append(",\"log_pos\":")
        output.appendDecimal(header.logPosition)
        try writeFields(event, decoder: &decoder, into: &output)
        output.append("}\n")
    }

    private func writeFields(_ event: BinlogEvent, decoder: inout BinlogDecoder, into output: inout [UInt8])
        throws(BinlogError)
    {
        switch event.payload {
        case .formatDescription(let description):
            output.append(",\"server_version\":")
            Self.writeString(description.serverVersion, into: &output)
            output.append(",\"binlog_version\":")
            output.appendDecimal(description.binlogVersion)
            output.append(",\"checksum\":\"")
            output.appendString(description.checksumAlgorithm.description)
            output.append(UInt8(ascii: "\""))
        case .query(let query):
            output.append(",\"schema\":")
            Self.writeString(query.schema, into: &output)
            output.append(",\"query\":")
            Self.writeString(query.query, into: &output)
            output.append(",\"thread_id\":")
            output.appendDecimal(query.threadID)
            output.append(",\"error_code\":")
            output.appendDecimal(query.errorCode)
        case .rotate(let rotate):
            output.append(",\"next_file\":")
            Self.writeString(rotate.fileName, into: &output)
            output.append(",\"next_position\":")
            output.appendDecimal(rotate.position)
        case .xid(let xid):
            output.append(",\"xid\":")
            output.appendDecimal(xid)
        case .intvar(let intvar):
            output.append(",\"kind\":")
            output.appendDecimal(intvar.kind)
            output.append(",\"value\":")
            output.appendDecimal(intvar.value)
        case .rand(let seed1, let seed2):
            output.append(",\"seed1\":")
            output.appendDecimal(seed1)
            output.append(",\"seed2\":")
            output.appendDecimal(seed2)
        case .userVariable(let variable):
            output.append(",\"name\":")
            Self.writeString(variable.name, into: &output)
            output.append(",\"is_null\":")
            output.appendBool(variable.valueType == nil)
        case .tableMap(let map):
            output.append(",\"table_id\":")
            output.appendDecimal(map.tableID)
            output.append(",\"schema\":")
            Self.writeString(map.schema, into: &output)
            output.append(",\"table\":")
            Self.writeString(map.table, into: &output)
            output.append(",\"columns\":[")
            map.columns.withUnsafeBufferPointer { columns in
                for index in columns.indices {
                    if index > 0 { output.append(UInt8(ascii: ",")) }
                    output.append("{\"type\":\"")
                    output.appendString(columns[index].valueType.name)
                    output.append("\",\"meta\":")
                    output.appendDecimal(columns[index].metadata)
                    output.append(",\"nullable\":")
                    output.appendBool(columns[index].isNullable)
                    if let name = columns[index].name {
                        output.append(",\"name\":")
                        Self.writeString(name, into: &output)
                    }
                    if let unsigned = columns[index].isUnsigned {
                        output.append(",\"unsigned\":")
                        output.appendBool(unsigned)
                    }
                    output.append(UInt8(ascii: "}"))
                }
            }
            output.append(UInt8(ascii: "]"))
        case .rows(let rows):
            guard let map = rows.tableMap else {
                throw BinlogError(.corrupt, "row event refers to table id \(rows.tableID) with no TABLE_MAP before it")
            }
            output.append(",\"table_id\":")
            output.appendDecimal(rows.tableID)
            output.append(",\"schema\":")
            Self.writeString(map.schema, into: &output)
            output.append(",\"table\":")
            Self.writeString(map.table, into: &output)
            output.append(",\"op\":\"")
            switch rows.kind {
            case .insert: output.append("insert")
            case .update: output.append("update")
            case .delete: output.append("delete")
            }
            output.append("\",\"rows\":[")
            var iterator = try rows.rows()
            let keys = self.keys.bytes(for: map)
            var first = true
            while let change = try iterator.next() {
                if !first { output.append(UInt8(ascii: ",")) }
                first = false
                output.append(UInt8(ascii: "{"))
                if let before = change.before {
                    output.append("\"before\":")
                    try writeImage(before, keys: keys, into: &output)
                }
                if let after = change.after {
                    if change.before != nil { output.append(UInt8(ascii: ",")) }
                    output.append("\"after\":")
                    try writeImage(after, keys: keys, into: &output)
                }
                output.append(UInt8(ascii: "}"))
            }
            output.append(UInt8(ascii: "]"))
        case .gtid(let gtid):
            output.append(",\"gtid\":\"")
            if gtid.isAnonymous {
                output.append("ANONYMOUS")
            } else {
                output.appendUUID(gtid.sid)
                if let tag = gtid.tag {
                    output.append(UInt8(ascii: ":"))
                    output.appendString(tag)
                }
                output.append(UInt8(ascii: ":"))
                output.appendDecimal(gtid.gno)
            }
            output.append(UInt8(ascii: "\""))
            if let lastCommitted = gtid.lastCommitted, let sequence = gtid.sequenceNumber {
                output.append(",\"last_committed\":")
                output.appendDecimal(lastCommitted)
                output.append(",\"sequence_number\":")
                output.appendDecimal(sequence)
            }
            if let original = gtid.originalCommitTimestamp {
                output.append(",\"original_commit_timestamp_us\":")
                output.appendDecimal(original)
            }
            if let immediate = gtid.immediateCommitTimestamp {
                output.append(",\"immediate_commit_timestamp_us\":")
                output.appendDecimal(immediate)
            }
            if let length = gtid.transactionLength {
                output.append(",\"transaction_length\":")
                output.appendDecimal(length)
            }
        case .previousGTIDs(let set):
            output.append(",\"gtid_set\":")
            Self.writeString(set.description, into: &output)
        case .rowsQuery(let text), .annotateRows(let text):
            output.append(",\"query\":")
            Self.writeString(text, into: &output)
        case .heartbeat(let heartbeat):
            output.append(",\"log_file\":")
            Self.writeString(heartbeat.logFileName, into: &output)
            output.append(",\"log_position\":")
            output.appendDecimal(heartbeat.position)
        case .transactionPayload(let payload):
            output.append(",\"compression\":\"")
            if payload.compression == TransactionPayloadEvent.zstd { output.append("ZSTD") } else { output.append("NONE") }
            output.append("\",\"uncompressed_size\":")
            output.appendDecimal(payload.uncompressedSize)
            output.append(",\"events\":[")
            var first = true
            // Inner events carry no checksum and no nested payloads: format them with a plain decoder.
            var innerDecoder = BinlogDecoder()
            try decoder.forEachEvent(in: payload) { (inner: BinlogEvent) throws(BinlogError) in
                if !first { output.append(UInt8(ascii: ",")) }
                first = false
                try write(inner, decoder: &innerDecoder, into: &output)
                output.removeLast()  // the newline
            }
            output.append(UInt8(ascii: "]"))
        case .xaPrepare(let prepare):
            output.append(",\"format_id\":")
            output.appendDecimal(prepare.formatID)
            output.append(",\"one_phase\":")
            output.appendBool(prepare.onePhase)
            output.append(",\"gtrid\":")
            Self.writeString(prepare.gtrid, into: &output)
            output.append(",\"bqual\":")
            Self.writeString(prepare.bqual, into: &output)
        case .incident(let incident):
            output.append(",\"incident\":")
            output.appendDecimal(incident.kind)
            output.append(",\"message\":")
            Self.writeString(incident.message, into: &output)
        case .loadData(let fileID, let data):
            output.append(",\"file_id\":")
            output.appendDecimal(fileID)
            output.append(",\"data_length\":")
            output.appendDecimal(data.count)
        case .mariadbGTID(let gtid):
            output.append(",\"gtid\":\"")
            output.appendGTID(gtid.gtid)
            output.append("\",\"flags\":")
            output.appendDecimal(gtid.flags)
            if let commitID = gtid.commitID {
                output.append(",\"commit_id\":")
                output.appendDecimal(commitID)
            }
        case .mariadbGTIDList(let list):
            output.append(",\"gtid_list\":\"")
            for (index, gtid) in list.enumerated() {
                if index > 0 { output.append(UInt8(ascii: ",")) }
                output.appendGTID(gtid)
            }
            output.append(UInt8(ascii: "\""))
        case .binlogCheckpoint(let name):
            output.append(",\"file\":")
            Self.writeString(name, into: &output)
        case .stop, .opaque:
            break
        }
    }

    /// `{"name": value, …}` with column names where the table map has them, `@N` otherwise.
    private func writeImage(_ image: RowImage, keys: ColumnTextCache.Entry, into output: inout [UInt8])
        throws(BinlogError)
    {
        output.append(UInt8(ascii: "{"))
        var first = true
        var columns = image.makeIterator()
        while let (index, value) = try columns.next() {
            if !first { output.append(UInt8(ascii: ",")) }
            first = false
            keys.append(index, to: &output)
            try writeValue(value, image: image, column: index, into: &output)
        }
        output.append(UInt8(ascii: "}"))
    }

    private func writeValue(_ value: ColumnValue, image: RowImage, column: Int, into output: inout [UInt8])
        throws(BinlogError)
    {
        switch value {
        case .null: output.append("null")
        case .integer(let integer):
            if integer.isUnsigned == true { output.appendDecimal(integer.bits) } else { output.appendDecimal(integer.signed) }
        case .float(let float):
            if float.isFinite { output.appendString(float.description) } else { Self.writeString(float.description, into: &output) }
        case .double(let double):
            if double.isFinite { output.appendString(double.description) } else { Self.writeString(double.description, into: &output) }
        case .decimal(let decimal): decimal.write(into: &output)
        case .year(let year): output.appendDecimal(year)
        case .date(let date):
            output.append(UInt8(ascii: "\""))
            date.write(into: &output)
            output.append(UInt8(ascii: "\""))
        case .time(let time):
            output.append(UInt8(ascii: "\""))
            time.write(into: &output)
            output.append(UInt8(ascii: "\""))
        case .datetime(let datetime):
            output.append(UInt8(ascii: "\""))
            datetime.write(into: &output)
            output.append(UInt8(ascii: "\""))
        case .timestamp(let timestamp): timestamp.write(into: &output)
        case .string(let bytes), .blob(let bytes): Self.writeBytes(bytes, into: &output)
        case .geometry(let bytes), .vector(let bytes):
            output.append("{\"hex\":\"")
            output.appendHex(bytes)
            output.append("\"}")
        case .enumIndex(let index):
            let elements = image.tableMap.columns[column].elements
            if let elements, index >= 1, Int(index) <= elements.count {
                Self.writeString(elements[Int(index) - 1], into: &output)
            } else {
                output.appendDecimal(index)
            }
        case .setBits(let bits):
            if let elements = image.tableMap.columns[column].elements {
                output.append(UInt8(ascii: "["))
                var first = true
                for (index, element) in elements.enumerated() where index < 64 && bits & (1 << UInt64(index)) != 0 {
                    if !first { output.append(UInt8(ascii: ",")) }
                    first = false
                    Self.writeString(element, into: &output)
                }
                output.append(UInt8(ascii: "]"))
            } else {
                output.appendDecimal(bits)
            }
        case .bit(let bits, _): output.appendDecimal(bits)
        case .json(let document):
            try JSONBinary.writeText(document, into: &output)
        case .jsonDiff(let diffs):
            Self.writeString(try diffs.sqlExpression(column: "@\(column + 1)"), into: &output)
        }
    }

    /// Text that is valid UTF-8 as a JSON string; anything else as `{"hex":"…"}` so no byte is lost.
    static func writeBytes(_ bytes: UnsafeRawBufferPointer, into output: inout [UInt8]) {
        if isValidUTF8(bytes) {
            writeString(bytes, into: &output)
        } else {
            output.append("{\"hex\":\"")
            output.appendHex(bytes)
            output.append("\"}")
        }
    }

    static func isValidUTF8(_ bytes: UnsafeRawBufferPointer) -> Bool {
        // Fast path: plain ASCII, eight bytes at a time.
        var index = 0
        let count = bytes.count
        while index + 8 <= count {
            if bytes.loadUnaligned(fromByteOffset: index, as: UInt64.self) & 0x8080_8080_8080_8080 != 0 { break }
            index += 8
        }
        while index < count, bytes[index] < 0x80 { index += 1 }
        if index == count { return true }
        var iterator = UnsafeRawBufferPointer(rebasing: bytes[index...]).makeIterator()
        var decoder = UTF8()
        while true {
            switch decoder.decode(&iterator) {
            case .scalarValue: continue
            case .emptyInput: return true
            case .error: return false
            }
        }
    }

    static func writeString(_ text: String, into output: inout [UInt8]) {
        var text = text
        text.withUTF8 { writeString(UnsafeRawBufferPointer($0), into: &output) }
    }

    /// Whether any of the eight bytes of `word` is below 0x20, a quote or a backslash.
    @inline(__always)
    static func needsEscape(_ word: UInt64) -> Bool {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let highs: UInt64 = 0x8080_8080_8080_8080
        func hasZero(_ value: UInt64) -> Bool { (value &- ones) & ~value & highs != 0 }
        // A byte below 0x20: (byte - 0x20) borrows into its high bit while the byte's own is clear.
        let control = (word &- ones &* 0x20) & ~word & highs != 0
        return control || hasZero(word ^ (ones &* 0x22)) || hasZero(word ^ (ones &* 0x5C))
    }

    /// A JSON string literal; control characters, quotes and backslashes escaped. Runs that need
    /// no escaping are copied whole.
    static func writeString(_ bytes: UnsafeRawBufferPointer, into output: inout [UInt8]) {
        output.append(UInt8(ascii: "\""))
        var runStart = 0
        var index = 0
        // Eight bytes at a time while none is a control character, a quote or a backslash.
        while index + 8 <= bytes.count {
            let word = bytes.loadUnaligned(fromByteOffset: index, as: UInt64.self)
            if Self.needsEscape(word) { break }
            index += 8
        }
        for index in index..<bytes.count {
            let byte = bytes[index]
            guard byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") else { continue }
            if runStart < index { output.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[runStart..<index])) }
            runStart = index + 1
            switch byte {
            case UInt8(ascii: "\""): output.append("\\\"")
            case UInt8(ascii: "\\"): output.append("\\\\")
            case 0x0A: output.append("\\n")
            case 0x0D: output.append("\\r")
            case 0x09: output.append("\\t")
            default:
                output.append("\\u00")
                output.appendHexByte(byte)
            }
        }
        if runStart < bytes.count {
            output.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[runStart..<bytes.count]))
        }
        output.append(UInt8(ascii: "\""))
    }
}

/// Per-table text for each column (JSON keys, `mysqlbinlog -vv` comments), built once per table
/// map and reused for every row. Keeps the last few table maps (strongly, so that a map's
/// identity is never reused while its entry exists).
final class ColumnTextCache {
    /// One table's column texts, in one allocation that lives as long as the entry.
    final class Entry {
        let map: TableMap
        /// The text of every column, one after the other.
        private let bytes: UnsafeMutableRawBufferPointer
        /// Where column i's text ends (and column i + 1's starts).
        private let ends: UnsafeMutableBufferPointer<Int>

        init(map: TableMap, bytes: [UInt8], ends: [Int]) {
            self.map = map
            let storage = UnsafeMutableRawBufferPointer.allocate(byteCount: Swift.max(1, bytes.count), alignment: 1)
            bytes.withUnsafeBytes { storage.copyMemory(from: $0) }
            self.bytes = storage
            self.ends = .allocate(capacity: Swift.max(1, ends.count))
            _ = self.ends.initialize(from: ends)
        }

        deinit {
            bytes.deallocate()
            ends.deallocate()
        }

        /// Appends column `column`'s text (`column` is below the table's column count).
        func append(_ column: Int, to output: inout [UInt8]) {
            let start = column == 0 ? 0 : ends[column - 1]
            output.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[start..<ends[column]]))
        }
    }

    private let make: (TableMap, Int, inout [UInt8]) -> Void
    private var entries: [Entry] = []
    private static let capacity = 64

    init(_ make: @escaping (TableMap, Int, inout [UInt8]) -> Void) {
        self.make = make
    }

    func bytes(for map: TableMap) -> Entry {
        if let last = entries.last, last.map === map { return last }
        if let index = entries.firstIndex(where: { $0.map === map }) {
            let entry = entries.remove(at: index)
            entries.append(entry)
            return entry
        }
        var bytes: [UInt8] = []
        var ends: [Int] = []
        ends.reserveCapacity(map.columns.count)
        for column in map.columns.indices {
            make(map, column, &bytes)
            ends.append(bytes.count)
        }
        let entry = Entry(map: map, bytes: bytes, ends: ends)
        if entries.count >= Self.capacity { entries.removeFirst() }
        entries.append(entry)
        return entry
    }
}

/// `text` as a JSON string literal (the log handler's and verify's JSON), escaped as `inspect`'s.
func jsonQuoted(_ text: String) -> String {
    var output: [UInt8] = []
    var text = text
    text.withUTF8 { JSONLinesFormatter.writeString(UnsafeRawBufferPointer($0), into: &output) }
    return String(decoding: output, as: UTF8.self)
}
