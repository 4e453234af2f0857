import BinlogFormat

/// `inspect --format jsonl`: one JSON object per event (DESIGN.md: `type`, `position`,
/// `timestamp`, `server_id`, and for row events `schema`, `table`, `rows` with
/// `before`/`after` column values).
struct JSONLinesFormatter: EventFormatter {
    func write(_ event: BinlogEvent, decoder: inout BinlogDecoder, into output: inout [UInt8]) throws(BinlogError) {
        output.append("{\"type\":\"")
        output.append(event.type.name)
        output.append("\",\"position\":")
        output.appendDecimal(event.offset)
        output.append(",\"timestamp\":")
        output.appendDecimal(event.header.timestamp)
        output.append(",\"server_id\":")
        output.appendDecimal(event.header.serverID)
        output.append(",\"size\":")
        output.appendDecimal(event.header.eventSize)
        output.append(",\"log_pos\":")
        output.appendDecimal(event.header.logPosition)
        try writeFields(event, decoder: &decoder, into: &output)
        output.append("}\n")
    }

    private func writeFields(_ event: BinlogEvent, decoder: inout BinlogDecoder, into output: inout [UInt8])
        throws(BinlogError)
    {
        switch event.payload {
        case .formatDescription(let description):
            output.append(",\"server_version\":")
            writeString(description.serverVersion, into: &output)
            output.append(",\"binlog_version\":\(description.binlogVersion),\"checksum\":\"\(description.checksumAlgorithm)\"")
        case .query(let query):
            output.append(",\"schema\":")
            writeString(query.schema, into: &output)
            output.append(",\"query\":")
            writeString(query.query, into: &output)
            output.append(",\"thread_id\":\(query.threadID),\"error_code\":\(query.errorCode)")
        case .rotate(let rotate):
            output.append(",\"next_file\":")
            writeString(rotate.fileName, into: &output)
            output.append(",\"next_position\":\(rotate.position)")
        case .xid(let xid):
            output.append(",\"xid\":\(xid)")
        case .intvar(let intvar):
            output.append(",\"kind\":\(intvar.kind),\"value\":\(intvar.value)")
        case .rand(let seed1, let seed2):
            output.append(",\"seed1\":\(seed1),\"seed2\":\(seed2)")
        case .userVariable(let variable):
            output.append(",\"name\":")
            writeString(variable.name, into: &output)
            output.append(",\"is_null\":\(variable.valueType == nil)")
        case .tableMap(let map):
            output.append(",\"table_id\":\(map.tableID),\"schema\":")
            writeString(map.schema, into: &output)
            output.append(",\"table\":")
            writeString(map.table, into: &output)
            output.append(",\"columns\":[")
            for (index, column) in map.columns.enumerated() {
                if index > 0 { output.append(UInt8(ascii: ",")) }
                output.append("{\"type\":\"\(column.valueType.name)\",\"meta\":\(column.metadata),\"nullable\":\(column.isNullable)")
                if let name = column.name {
                    output.append(",\"name\":")
                    writeString(name, into: &output)
                }
                if let unsigned = column.isUnsigned { output.append(",\"unsigned\":\(unsigned)") }
                output.append(UInt8(ascii: "}"))
            }
            output.append(UInt8(ascii: "]"))
        case .rows(let rows):
            guard let map = rows.tableMap else {
                throw BinlogError(.corrupt, "row event refers to table id \(rows.tableID) with no TABLE_MAP before it")
            }
            output.append(",\"table_id\":\(rows.tableID),\"schema\":")
            writeString(map.schema, into: &output)
            output.append(",\"table\":")
            writeString(map.table, into: &output)
            output.append(",\"op\":\"\(rows.kind.rawValue)\",\"rows\":[")
            var iterator = try rows.rows()
            var first = true
            while let change = try iterator.next() {
                if !first { output.append(UInt8(ascii: ",")) }
                first = false
                output.append(UInt8(ascii: "{"))
                if let before = change.before {
                    output.append("\"before\":")
                    try writeImage(before, into: &output)
                }
                if let after = change.after {
                    if change.before != nil { output.append(UInt8(ascii: ",")) }
                    output.append("\"after\":")
                    try writeImage(after, into: &output)
                }
                output.append(UInt8(ascii: "}"))
            }
            output.append(UInt8(ascii: "]"))
        case .gtid(let gtid):
            output.append(",\"gtid\":\"\(gtid.description)\"")
            if let lastCommitted = gtid.lastCommitted, let sequence = gtid.sequenceNumber {
                output.append(",\"last_committed\":\(lastCommitted),\"sequence_number\":\(sequence)")
            }
            if let original = gtid.originalCommitTimestamp {
                output.append(",\"original_commit_timestamp_us\":\(original)")
            }
            if let immediate = gtid.immediateCommitTimestamp {
                output.append(",\"immediate_commit_timestamp_us\":\(immediate)")
            }
            if let length = gtid.transactionLength { output.append(",\"transaction_length\":\(length)") }
        case .previousGTIDs(let set):
            output.append(",\"gtid_set\":")
            writeString(set.description, into: &output)
        case .rowsQuery(let text), .annotateRows(let text):
            output.append(",\"query\":")
            writeString(text, into: &output)
        case .heartbeat(let heartbeat):
            output.append(",\"log_file\":")
            writeString(heartbeat.logFileName, into: &output)
            output.append(",\"log_position\":\(heartbeat.position)")
        case .transactionPayload(let payload):
            output.append(",\"compression\":\"\(payload.compression == TransactionPayloadEvent.zstd ? "ZSTD" : "NONE")\"")
            output.append(",\"uncompressed_size\":\(payload.uncompressedSize),\"events\":[")
            var first = true
            // Inner events carry no checksum and no nested payloads: format them with a plain decoder.
            var innerDecoder = BinlogDecoder()
            try decoder.forEachEvent(in: payload) { (inner: BinlogEvent) throws(BinlogError) in
                if !first { output.append(UInt8(ascii: ",")) }
                first = false
                var line: [UInt8] = []
                try write(inner, decoder: &innerDecoder, into: &line)
                output.append(contentsOf: line.dropLast())  // without the newline
            }
            output.append(UInt8(ascii: "]"))
        case .xaPrepare(let prepare):
            output.append(",\"format_id\":\(prepare.formatID),\"one_phase\":\(prepare.onePhase),\"gtrid\":")
            writeString(prepare.gtrid, into: &output)
            output.append(",\"bqual\":")
            writeString(prepare.bqual, into: &output)
        case .incident(let incident):
            output.append(",\"incident\":\(incident.kind),\"message\":")
            writeString(incident.message, into: &output)
        case .loadData(let fileID, let data):
            output.append(",\"file_id\":\(fileID),\"data_length\":\(data.count)")
        case .mariadbGTID(let gtid):
            output.append(",\"gtid\":\"\(gtid.gtid)\",\"flags\":\(gtid.flags)")
            if let commitID = gtid.commitID { output.append(",\"commit_id\":\(commitID)") }
        case .mariadbGTIDList(let list):
            output.append(",\"gtid_list\":\"\(list.map(\.description).joined(separator: ","))\"")
        case .binlogCheckpoint(let name):
            output.append(",\"file\":")
            writeString(name, into: &output)
        case .stop, .opaque:
            break
        }
    }

    /// `{"name": value, …}` with column names where the table map has them, `@N` otherwise.
    private func writeImage(_ image: RowImage, into output: inout [UInt8]) throws(BinlogError) {
        output.append(UInt8(ascii: "{"))
        var first = true
        let columns = image.tableMap.columns
        try image.forEachColumn { (index: Int, value: ColumnValue) throws(BinlogError) in
            if !first { output.append(UInt8(ascii: ",")) }
            first = false
            let column = columns[index]
            if let name = column.name {
                writeString(name, into: &output)
            } else {
                output.append("\"@")
                output.appendDecimal(index + 1)
                output.append(UInt8(ascii: "\""))
            }
            output.append(UInt8(ascii: ":"))
            try writeValue(value, column: column, columnNumber: index + 1, into: &output)
        }
        output.append(UInt8(ascii: "}"))
    }

    private func writeValue(_ value: ColumnValue, column: TableMap.Column, columnNumber: Int, into output: inout [UInt8])
        throws(BinlogError)
    {
        switch value {
        case .null: output.append("null")
        case .integer(let integer):
            if integer.isUnsigned == true { output.appendDecimal(integer.bits) } else { output.appendDecimal(integer.signed) }
        case .float(let float):
            if float.isFinite { output.append(float.description) } else { writeString(float.description, into: &output) }
        case .double(let double):
            if double.isFinite { output.append(double.description) } else { writeString(double.description, into: &output) }
        case .decimal(let decimal): decimal.write(into: &output)
        case .year(let year): output.appendDecimal(year)
        case .date(let date): writeString(date.description, into: &output)
        case .time(let time): writeString(time.description, into: &output)
        case .datetime(let datetime): writeString(datetime.description, into: &output)
        case .timestamp(let timestamp): output.append(timestamp.description)
        case .string(let bytes), .blob(let bytes): writeBytes(bytes, into: &output)
        case .geometry(let bytes), .vector(let bytes):
            output.append("{\"hex\":\"")
            output.appendHex(bytes)
            output.append("\"}")
        case .enumIndex(let index):
            if let elements = column.elements, index >= 1, Int(index) <= elements.count {
                writeString(elements[Int(index) - 1], into: &output)
            } else {
                output.appendDecimal(index)
            }
        case .setBits(let bits):
            if let elements = column.elements {
                output.append(UInt8(ascii: "["))
                var first = true
                for (index, element) in elements.enumerated() where index < 64 && bits & (1 << UInt64(index)) != 0 {
                    if !first { output.append(UInt8(ascii: ",")) }
                    first = false
                    writeString(element, into: &output)
                }
                output.append(UInt8(ascii: "]"))
            } else {
                output.appendDecimal(bits)
            }
        case .bit(let bits, _): output.appendDecimal(bits)
        case .json(let document):
            try JSONBinary.writeText(document, into: &output)
        case .jsonDiff(let diffs):
            writeString(try diffs.sqlExpression(column: "@\(columnNumber)"), into: &output)
        }
    }

    /// Text that is valid UTF-8 as a JSON string; anything else as `{"hex":"…"}` so no byte is lost.
    private func writeBytes(_ bytes: UnsafeRawBufferPointer, into output: inout [UInt8]) {
        if isValidUTF8(bytes) {
            writeString(bytes, into: &output)
        } else {
            output.append("{\"hex\":\"")
            output.appendHex(bytes)
            output.append("\"}")
        }
    }

    private func isValidUTF8(_ bytes: UnsafeRawBufferPointer) -> Bool {
        // Fast path: plain ASCII.
        var allASCII = true
        for byte in bytes where byte >= 0x80 {
            allASCII = false
            break
        }
        if allASCII { return true }
        var iterator = bytes.makeIterator()
        var decoder = UTF8()
        while true {
            switch decoder.decode(&iterator) {
            case .scalarValue: continue
            case .emptyInput: return true
            case .error: return false
            }
        }
    }

    private func writeString(_ text: String, into output: inout [UInt8]) {
        var text = text
        text.withUTF8 { writeString(UnsafeRawBufferPointer($0), into: &output) }
    }

    /// A JSON string literal; invalid UTF-8 is escaped byte by byte as \u00XX.
    private func writeString(_ bytes: UnsafeRawBufferPointer, into output: inout [UInt8]) {
        output.append(UInt8(ascii: "\""))
        for byte in bytes {
            switch byte {
            case UInt8(ascii: "\""): output.append(contentsOf: [0x5C, 0x22])
            case UInt8(ascii: "\\"): output.append(contentsOf: [0x5C, 0x5C])
            case 0x0A: output.append(contentsOf: [0x5C, UInt8(ascii: "n")])
            case 0x0D: output.append(contentsOf: [0x5C, UInt8(ascii: "r")])
            case 0x09: output.append(contentsOf: [0x5C, UInt8(ascii: "t")])
            case 0..<0x20:
                output.append("\\u00")
                output.appendHexByte(byte)
            default: output.append(byte)
            }
        }
        output.append(UInt8(ascii: "\""))
    }
}
