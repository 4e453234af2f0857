import BinlogFormat

/// `inspect --format text`: events as `mysqlbinlog -vv` lays them out (`# at`, a header line,
/// statements, and `###` row images).
struct TextFormatter: EventFormatter {
    let comments = MySQLBinlogText.makeCommentCache()

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
        output.appendString(event.type.name)
        try writeBody(event, decoder: &decoder, into: &output)
    }

    private func writeBody(_ event: BinlogEvent, decoder: inout BinlogDecoder, into output: inout [UInt8])
        throws(BinlogError)
    {
        switch event.payload {
        case .formatDescription(let description):
            output.append(": binlog v ")
            output.appendDecimal(description.binlogVersion)
            output.append(", server v ")
            output.appendString(description.serverVersion)
            output.append(", checksum ")
            output.appendString(description.checksumAlgorithm.description)
            output.append("\n")
        case .query(let query):
            output.append("\tthread_id=")
            output.appendDecimal(query.threadID)
            output.append("\texec_time=")
            output.appendDecimal(query.executionTime)
            output.append("\terror_code=")
            output.appendDecimal(query.errorCode)
            output.append("\n")
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
            output.append("  pos: ")
            output.appendDecimal(rotate.position)
            output.append("\n")
        case .xid(let xid):
            output.append(" = ")
            output.appendDecimal(xid)
            output.append("\nCOMMIT/*!*/;\n")
        case .intvar(let intvar):
            if intvar.kind == 1 { output.append("\nSET LAST_INSERT_ID=") } else { output.append("\nSET INSERT_ID=") }
            output.appendDecimal(intvar.value)
            output.append("/*!*/;\n")
        case .rand(let seed1, let seed2):
            output.append("\nSET @@RAND_SEED1=")
            output.appendDecimal(seed1)
            output.append(", @@RAND_SEED2=")
            output.appendDecimal(seed2)
            output.append("/*!*/;\n")
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
            output.append(": ")
            MySQLBinlogText.writeTableName(map, into: &output)
            output.append(" mapped to number ")
            output.appendDecimal(map.tableID)
            output.append("\n")
        case .rows(let rows):
            output.append(": table id ")
            output.appendDecimal(rows.tableID)
            if rows.isStatementEnd { output.append(" flags: STMT_END_F") }
            output.append("\n")
            var iterator = try rows.rows()
            var count = 0
            while let change = try iterator.next() {
                try MySQLBinlogText.writeRow(change, kind: rows.kind, table: rows.tableMap!, comments: comments, into: &output)
                count += 1
            }
            output.append("# Number of rows: ")
            output.appendDecimal(count)
            output.append("\n")
        case .gtid(let gtid):
            output.append("\tSET @@SESSION.GTID_NEXT= '")
            output.appendString(gtid.description)
            output.append("'")
            if let original = gtid.originalCommitTimestamp {
                output.append("\toriginal_committed_timestamp=")
                output.appendDecimal(original)
            }
            output.append("\n")
        case .previousGTIDs(let set):
            output.append("\n# ")
            output.appendString(set.description)
            output.append("\n")
        case .rowsQuery(let text), .annotateRows(let text):
            output.append("\n# ")
            output.append(contentsOf: text)
            output.append("\n")
        case .heartbeat(let heartbeat):
            output.append(": ")
            output.append(contentsOf: heartbeat.logFileName)
            output.append(" pos ")
            output.appendDecimal(heartbeat.position)
            output.append("\n")
        case .transactionPayload(let payload):
            if payload.compression == TransactionPayloadEvent.zstd {
                output.append("\tcompression=ZSTD")
            } else {
                output.append("\tcompression=NONE")
            }
            output.append("\tpayload_size=")
            output.appendDecimal(payload.payload.count)
            output.append("\tuncompressed_size=")
            output.appendDecimal(payload.uncompressedSize)
            output.append("\n")
            // Inner events carry no checksum and no nested payloads: format them with a plain decoder.
            var innerDecoder = BinlogDecoder()
            try decoder.forEachEvent(in: payload) { (inner: BinlogEvent) throws(BinlogError) in
                output.append("# inside payload: ")
                try write(inner, decoder: &innerDecoder, into: &output)
            }
            output.append("# end of payload\n")
        case .xaPrepare(let prepare):
            output.append("\tXA PREPARE formatID=")
            output.appendDecimal(prepare.formatID)
            output.append(" one_phase=")
            output.appendBool(prepare.onePhase)
            output.append("\n")
        case .incident(let incident):
            output.append("\t#")
            output.appendDecimal(incident.kind)
            output.append(" ")
            output.append(contentsOf: incident.message)
            output.append("\n")
        case .loadData(let fileID, let data):
            output.append(": file_id=")
            output.appendDecimal(fileID)
            output.append(" block_len=")
            output.appendDecimal(data.count)
            output.append("\n")
        case .mariadbGTID(let gtid):
            output.append("\tGTID ")
            output.appendGTID(gtid.gtid)
            if gtid.isDDL { output.append(" ddl") }
            if gtid.isStandalone { output.append(" standalone\n") } else { output.append(" trans\n") }
        case .mariadbGTIDList(let list):
            output.append("\t[")
            for (index, gtid) in list.enumerated() {
                if index > 0 { output.append(",") }
                output.appendGTID(gtid)
            }
            output.append("]\n")
        case .binlogCheckpoint(let name):
            output.append("\t")
            output.append(contentsOf: name)
            output.append("\n")
        case .stop:
            output.append("\n")
        case .opaque(let body):
            output.append("\t")
            output.appendDecimal(body.count)
            output.append(" bytes\n")
        }
    }
}
