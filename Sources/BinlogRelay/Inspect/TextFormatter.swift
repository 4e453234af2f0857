import BinlogFormat

/// `inspect --format text`: events as `mysqlbinlog -vv` lays them out (`# at`, a header line,
/// statements, and `###` row images).
struct TextFormatter: EventFormatter {
    func write(_ event: BinlogEvent, decoder: inout BinlogDecoder, into output: inout [UInt8]) throws(BinlogError) {
        output.append("# at ")
        output.appendDecimal(event.offset)
        output.append("\n#")
        let time = UTCDateTime(unixSeconds: Int64(event.header.timestamp))
        output.appendPadded(time.year % 100, width: 2)
        output.appendPadded(time.month, width: 2)
        output.appendPadded(time.day, width: 2)
        output.append(UInt8(ascii: " "))
        if time.hour < 10 { output.append(UInt8(ascii: " ")) }
        output.appendDecimal(time.hour)
        output.append(UInt8(ascii: ":"))
        output.appendPadded(time.minute, width: 2)
        output.append(UInt8(ascii: ":"))
        output.appendPadded(time.second, width: 2)
        output.append(" server id ")
        output.appendDecimal(event.header.serverID)
        output.append("  end_log_pos ")
        output.appendDecimal(event.header.logPosition)
        if decoder.formatDescription.checksumAlgorithm == .crc32 && event.bytes.count >= 23 {
            output.append(" CRC32 0x")
            output.appendHex32(UInt32(event.bytes.loadUnaligned(fromByteOffset: event.bytes.count - 4, as: UInt32.self)))
        }
        output.append(" \t")
        output.append(event.type.name)
        try writeBody(event, decoder: &decoder, into: &output)
    }

    private func writeBody(_ event: BinlogEvent, decoder: inout BinlogDecoder, into output: inout [UInt8])
        throws(BinlogError)
    {
        switch event.payload {
        case .formatDescription(let description):
            output.append(": binlog v \(description.binlogVersion), server v \(description.serverVersion)")
            output.append(", checksum \(description.checksumAlgorithm)\n")
        case .query(let query):
            output.append("\tthread_id=\(query.threadID)\texec_time=\(query.executionTime)\terror_code=\(query.errorCode)\n")
            if !query.schema.isEmpty {
                output.append("use `")
                output.append(contentsOf: query.schema)
                output.append("`/*!*/;\n")
            }
            output.append(contentsOf: query.query)
            output.append("\n/*!*/;\n")
        case .rotate(let rotate):
            output.append(": ")
            output.append(contentsOf: rotate.fileName)
            output.append("  pos: \(rotate.position)\n")
        case .xid(let xid):
            output.append(" = \(xid)\nCOMMIT/*!*/;\n")
        case .intvar(let intvar):
            output.append(intvar.kind == 1 ? "\nSET LAST_INSERT_ID=" : "\nSET INSERT_ID=")
            output.append("\(intvar.value)/*!*/;\n")
        case .rand(let seed1, let seed2):
            output.append("\nSET @@RAND_SEED1=\(seed1), @@RAND_SEED2=\(seed2)/*!*/;\n")
        case .userVariable(let variable):
            output.append("\nSET @`")
            output.append(contentsOf: variable.name)
            output.append("`:=")
            if variable.valueType == nil {
                output.append("NULL")
            } else {
                output.append("0x")
                output.appendHex(variable.value)
            }
            output.append("/*!*/;\n")
        case .tableMap(let map):
            output.append(": `\(map.schema)`.`\(map.table)` mapped to number \(map.tableID)\n")
        case .rows(let rows):
            output.append(": table id \(rows.tableID)\(rows.isStatementEnd ? " flags: STMT_END_F" : "")\n")
            var iterator = try rows.rows()
            var count = 0
            while let change = try iterator.next() {
                try MySQLBinlogText.writeRow(change, kind: rows.kind, table: rows.tableMap!, into: &output)
                count += 1
            }
            output.append("# Number of rows: \(count)\n")
        case .gtid(let gtid):
            output.append("\tSET @@SESSION.GTID_NEXT= '\(gtid.description)'")
            if let original = gtid.originalCommitTimestamp {
                output.append("\toriginal_committed_timestamp=\(original)")
            }
            output.append("\n")
        case .previousGTIDs(let set):
            output.append("\n# \(set.description)\n")
        case .rowsQuery(let text), .annotateRows(let text):
            output.append("\n# ")
            output.append(contentsOf: text)
            output.append("\n")
        case .heartbeat(let heartbeat):
            output.append(": ")
            output.append(contentsOf: heartbeat.logFileName)
            output.append(" pos \(heartbeat.position)\n")
        case .transactionPayload(let payload):
            output.append("\tcompression=\(payload.compression == TransactionPayloadEvent.zstd ? "ZSTD" : "NONE")")
            output.append("\tpayload_size=\(payload.payload.count)\tuncompressed_size=\(payload.uncompressedSize)\n")
            // Inner events carry no checksum and no nested payloads: format them with a plain decoder.
            var innerDecoder = BinlogDecoder()
            try decoder.forEachEvent(in: payload) { (inner: BinlogEvent) throws(BinlogError) in
                output.append("# inside payload: ")
                try write(inner, decoder: &innerDecoder, into: &output)
            }
            output.append("# end of payload\n")
        case .xaPrepare(let prepare):
            output.append("\tXA PREPARE formatID=\(prepare.formatID) one_phase=\(prepare.onePhase)\n")
        case .incident(let incident):
            output.append("\t#\(incident.kind) ")
            output.append(contentsOf: incident.message)
            output.append("\n")
        case .loadData(let fileID, let data):
            output.append(": file_id=\(fileID) block_len=\(data.count)\n")
        case .mariadbGTID(let gtid):
            output.append("\tGTID \(gtid.gtid)\(gtid.isDDL ? " ddl" : "")\(gtid.isStandalone ? " standalone" : " trans")\n")
        case .mariadbGTIDList(let list):
            output.append("\t[\(list.map(\.description).joined(separator: ","))]\n")
        case .binlogCheckpoint(let name):
            output.append("\t")
            output.append(contentsOf: name)
            output.append("\n")
        case .stop:
            output.append("\n")
        case .opaque(let body):
            output.append("\t\(body.count) bytes\n")
        }
    }
}
