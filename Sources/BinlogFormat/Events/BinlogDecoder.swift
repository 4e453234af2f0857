import CZlib

/// Turns event bytes into ``BinlogEvent`` views.
///
/// The decoder holds what decoding depends on: the current FORMAT_DESCRIPTION (checksum
/// algorithm, post-header lengths) and the table maps that row events refer to. It does no I/O;
/// feed it one complete event at a time, from a file (``BinlogFileReader``) or a replication
/// stream.
public struct BinlogDecoder {
    /// The FORMAT_DESCRIPTION in force. Before the first one, events are read as binlog v4.
    public private(set) var formatDescription: FormatDescription = .assumedV4
    /// Verify every event's CRC32 when the format description announces CRC32 (on by default).
    public var verifiesChecksums: Bool
    /// Table maps by table id.
    public private(set) var tableMaps: [UInt64: TableMap] = [:]
    /// Decompressed bytes of the current event (MariaDB compressed events).
    let scratch = ScratchBuffer()

    /// Upper bound on a decompressed MariaDB event, a guard against corrupt length headers.
    public var maximumDecompressedSize = 1 << 30

    public init(verifiesChecksums: Bool = true) {
        self.verifiesChecksums = verifiesChecksums
    }

    /// Replaces the format description (a replication stream negotiates the checksum before the
    /// first event, and the relay log restores it on recovery).
    public mutating func use(_ formatDescription: FormatDescription) {
        self.formatDescription = formatDescription
    }

    /// Decodes one whole event (header, body, checksum) that starts at `offset` in the stream.
    public mutating func decode(_ event: UnsafeRawBufferPointer, at offset: Int) throws(BinlogError) -> BinlogEvent {
        try decode(event, at: offset, hasChecksum: true)
    }

    mutating func decode(_ event: UnsafeRawBufferPointer, at offset: Int, hasChecksum: Bool) throws(BinlogError)
        -> BinlogEvent
    {
        let header = try EventHeader(decoding: event, offset: offset)
        do throws(BinlogError) {
            guard Int(header.eventSize) == event.count else {
                throw BinlogError(
                    .corrupt, "event size field says \(header.eventSize) bytes, the event has \(event.count)",
                    offset: offset + 9)
            }
            let payload = try decodePayload(header: header, event: event, offset: offset, hasChecksum: hasChecksum)
            return BinlogEvent(offset: offset, bytes: event, payload: payload)
        } catch {
            throw error.inEvent(at: offset, type: header.type)
        }
    }

    private mutating func decodePayload(
        header: EventHeader, event: UnsafeRawBufferPointer, offset: Int, hasChecksum: Bool
    ) throws(BinlogError) -> EventPayload {
        let type = header.type
        if type == .formatDescription || type == .startV3 {
            let description = try FormatDescription(event: event, isStartV3: type == .startV3, baseOffset: offset)
            if description.checksumAlgorithm == .crc32 && verifiesChecksums
                && !event.eventChecksumMatches(isFormatDescription: true)
            {
                throw BinlogError(.checksumMismatch, "CRC32 of the FORMAT_DESCRIPTION does not match", offset: offset)
            }
            formatDescription = description
            return .formatDescription(description)
        }
        let trailer = hasChecksum ? formatDescription.checksumAlgorithm.trailerLength : 0
        guard event.count >= EventHeader.length + trailer else {
            throw BinlogError(.truncated, "event of \(event.count) bytes cannot hold its checksum", offset: offset)
        }
        if trailer > 0 && verifiesChecksums && !event.eventChecksumMatches(isFormatDescription: false) {
            let stored = UInt32(event.loadLittleEndian(at: event.count - 4, width: 4))
            throw BinlogError(
                .checksumMismatch,
                "CRC32 mismatch: stored 0x\(String(stored, radix: 16)), computed 0x"
                    + String(crc32(UnsafeRawBufferPointer(rebasing: event[0..<(event.count - 4)])), radix: 16),
                offset: offset)
        }
        let bodyStart = formatDescription.headerLength
        guard bodyStart <= event.count - trailer else {
            throw BinlogError(.truncated, "event shorter than the common header", offset: offset)
        }
        let body = UnsafeRawBufferPointer(rebasing: event[bodyStart..<(event.count - trailer)])
        let bodyOffset = offset + bodyStart
        var reader = ByteReader(body, baseOffset: bodyOffset)

        switch type {
        case .query, .executeLoadQuery, .mariadbQueryCompressed:
            return .query(try decodeQuery(type: type, &reader))
        case .rotate:
            let postHeader = formatDescription.postHeaderLength(for: .rotate, default: 8)
            let position = postHeader >= 8 ? try reader.readUInt64() : 4
            return .rotate(RotateEvent(position: position, fileName: reader.readRest()))
        case .stop:
            return .stop
        case .xid:
            return .xid(try reader.readUInt64())
        case .intvar:
            return .intvar(IntvarEvent(kind: try reader.readUInt8(), value: try reader.readUInt64()))
        case .rand:
            return .rand(seed1: try reader.readUInt64(), seed2: try reader.readUInt64())
        case .userVar:
            return .userVariable(try decodeUserVariable(&reader))
        case .tableMap:
            let postHeader = formatDescription.postHeaderLength(for: .tableMap, default: 8)
            let tableIDLength = postHeader == 6 ? 4 : 6
            try reader.require(tableIDLength, "table id")
            let tableID = body.loadLittleEndian(at: 0, width: tableIDLength)
            if let cached = tableMaps[tableID], cached.matches(body: body) {
                return .tableMap(cached)
            }
            let map = try TableMap(body: body, tableIDLength: tableIDLength, baseOffset: bodyOffset)
            if tableMaps.count >= 10_000 { tableMaps.removeAll(keepingCapacity: true) }
            tableMaps[tableID] = map
            return .tableMap(map)
        case _ where type.isRowsEvent:
            return .rows(try decodeRows(type: type, &reader))
        case .gtid, .anonymousGTID:
            return .gtid(try decodeGTID(anonymous: type == .anonymousGTID, &reader))
        case .gtidTagged:
            return .gtid(try decodeTaggedGTID(&reader))
        case .previousGTIDs:
            return .previousGTIDs(try GTIDSet(binary: body, baseOffset: bodyOffset))
        case .rowsQuery:
            try reader.skip(1, "ROWS_QUERY length")  // a 1-byte length that overflows; the rest is the text
            return .rowsQuery(reader.readRest())
        case .heartbeat:
            return .heartbeat(HeartbeatEvent(logFileName: reader.readRest(), position: UInt64(header.logPosition)))
        case .heartbeatV2:
            return .heartbeat(try decodeHeartbeatV2(&reader))
        case .transactionPayload:
            // The post-header length the FDE declares for this type is not used: the fields
            // start right after the common header (seen in MySQL 8.0.28 and 8.0.32 files).
            return .transactionPayload(try decodeTransactionPayload(&reader))
        case .xaPrepare:
            let onePhase = try reader.readUInt8() != 0
            let formatID = Int32(bitPattern: try reader.readUInt32())
            let gtridLength = Int(try reader.readUInt32())
            let bqualLength = Int(try reader.readUInt32())
            guard gtridLength <= 64, bqualLength <= 64 else {
                throw BinlogError(.corrupt, "XA id lengths \(gtridLength)+\(bqualLength) exceed 64+64")
            }
            return .xaPrepare(
                XAPrepareEvent(
                    onePhase: onePhase, formatID: formatID, gtrid: try reader.readBytes(gtridLength),
                    bqual: try reader.readBytes(bqualLength)))
        case .incident:
            let kind = try reader.readUInt16()
            let message = reader.isAtEnd ? UnsafeRawBufferPointer(start: nil, count: 0) : try reader.readLengthPrefixed8()
            return .incident(IncidentEvent(kind: kind, message: message))
        case .appendBlock, .beginLoadQuery:
            return .loadData(fileID: try reader.readUInt32(), data: reader.readRest())
        case .mariadbGTID:
            return .mariadbGTID(try decodeMariaDBGTID(&reader, serverID: header.serverID))
        case .mariadbGTIDList:
            let word = try reader.readUInt32()
            let count = Int(word & 0x0FFF_FFFF)
            guard count <= reader.remaining / 16 else {
                throw BinlogError(.corrupt, "GTID list claims \(count) entries in \(reader.remaining) bytes")
            }
            var list: [MariaDBGTID] = []
            list.reserveCapacity(count)
            for _ in 0..<count {
                list.append(
                    MariaDBGTID(
                        domainID: try reader.readUInt32(), serverID: try reader.readUInt32(),
                        sequence: try reader.readUInt64()))
            }
            return .mariadbGTIDList(list)
        case .mariadbBinlogCheckpoint:
            let length = Int(try reader.readUInt32())
            return .binlogCheckpoint(fileName: try reader.readBytes(length, "checkpoint file name"))
        case .mariadbAnnotateRows:
            return .annotateRows(reader.readRest())
        case .mariadbStartEncryption:
            throw BinlogError(
                .encrypted,
                "encrypted binlog (START_ENCRYPTION): the source writes encrypted binlog files; read them through"
                    + " the server (replication), which decrypts them, or turn off encrypt_binlog",
                offset: offset)
        default:
            return .opaque(body: body)
        }
    }

    // MARK: - Event bodies

    private mutating func decodeQuery(type: EventType, _ reader: inout ByteReader) throws(BinlogError) -> QueryEvent {
        let postHeader = formatDescription.postHeaderLength(for: type, default: type == .executeLoadQuery ? 26 : 13)
        let threadID = try reader.readUInt32()
        let executionTime = try reader.readUInt32()
        let schemaLength = Int(try reader.readUInt8())
        let errorCode = try reader.readUInt16()
        // v4 adds the status-variables length; EXECUTE_LOAD_QUERY adds file id, start, end and
        // duplicate handling after it. Skip whatever this server declared beyond what is read here.
        var statusLength = 0
        var consumed = 11
        if postHeader >= 13 {
            statusLength = Int(try reader.readUInt16())
            consumed = 13
        }
        try reader.skip(Swift.max(0, postHeader - consumed), "post-header")
        let status = try reader.readBytes(statusLength, "status variables")
        let schema = try reader.readBytes(schemaLength, "schema name")
        try reader.skip(1, "schema NUL")
        var query = reader.readRest()
        if type == .mariadbQueryCompressed {
            query = try decompressMariaDB(query, offset: reader.baseOffset + reader.position - query.count)
        }
        return QueryEvent(
            threadID: threadID, executionTime: executionTime, errorCode: errorCode, rawStatusVariables: status,
            schema: schema, query: query)
    }

    private func decodeUserVariable(_ reader: inout ByteReader) throws(BinlogError) -> UserVariableEvent {
        let nameLength = Int(try reader.readUInt32())
        let name = try reader.readBytes(nameLength, "variable name")
        let isNull = try reader.readUInt8() != 0
        if isNull {
            return UserVariableEvent(
                name: name, valueType: nil, collation: 0, value: UnsafeRawBufferPointer(start: nil, count: 0), flags: 0)
        }
        let valueType = try reader.readUInt8()
        let collation = try reader.readUInt32()
        let valueLength = Int(try reader.readUInt32())
        let value = try reader.readBytes(valueLength, "variable value")
        let flags = reader.isAtEnd ? 0 : try reader.readUInt8()
        return UserVariableEvent(name: name, valueType: valueType, collation: collation, value: value, flags: flags)
    }

    private mutating func decodeRows(type: EventType, _ reader: inout ByteReader) throws(BinlogError) -> RowsEvent {
        let isVersion2 = (30...32).contains(type.rawValue) || type == .partialUpdateRows
            || (169...171).contains(type.rawValue)
        let postHeader = formatDescription.postHeaderLength(for: type, default: isVersion2 ? 10 : 8)
        let tableID = try reader.readLittleEndian(postHeader == 6 ? 4 : 6)
        let flags = try reader.readUInt16()
        var extraData = UnsafeRawBufferPointer(start: nil, count: 0)
        if isVersion2 {
            let extraLength = Int(try reader.readUInt16())
            guard extraLength >= 2 else {
                throw BinlogError(.corrupt, "row event extra-data length \(extraLength) is below 2")
            }
            extraData = try reader.readBytes(extraLength - 2, "extra row info")
        }
        let columnCount = try reader.readLengthEncodedCount()
        guard columnCount <= Int(UInt32.max) else {
            throw BinlogError(.corrupt, "row event claims \(columnCount) columns")
        }
        let kind: RowsEvent.Kind
        switch type {
        case .writeRowsV1, .writeRowsV2, .preGAWriteRows, .mariadbWriteRowsCompressedV1, .mariadbWriteRowsCompressed:
            kind = .insert
        case .deleteRowsV1, .deleteRowsV2, .preGADeleteRows, .mariadbDeleteRowsCompressedV1,
            .mariadbDeleteRowsCompressed:
            kind = .delete
        default:
            kind = .update
        }
        let bitmapLength = Bitmap.byteCount(columnCount)
        let present = Bitmap(bytes: try reader.readBytes(bitmapLength, "columns-present bitmap"), count: columnCount)
        var presentAfter: Bitmap?
        if kind == .update {
            presentAfter = Bitmap(
                bytes: try reader.readBytes(bitmapLength, "after-image columns bitmap"), count: columnCount)
        }
        var rowDataOffset = reader.baseOffset + reader.position
        var rowData = reader.readRest()
        if (166...171).contains(type.rawValue) {
            rowData = try decompressMariaDB(rowData, offset: rowDataOffset)
            rowDataOffset = 0
        }
        guard rowData.count <= Int(UInt32.max) else {
            throw BinlogError(.corrupt, "row event with \(rowData.count) bytes of rows", offset: rowDataOffset)
        }
        return RowsEvent(
            type: type, kind: kind, tableID: tableID, flags: flags, extraData: extraData, columnCount: columnCount,
            columnsPresent: present, columnsPresentAfter: presentAfter, rowData: rowData, tableMap: tableMaps[tableID],
            rowDataOffset: rowDataOffset)
    }

    private func decodeGTID(anonymous: Bool, _ reader: inout ByteReader) throws(BinlogError) -> GTIDEvent {
        var event = GTIDEvent(
            isAnonymous: anonymous, flags: try reader.readUInt8(),
            sid: UUID16(bytes: try reader.readBytes(16, "GTID SID")), gno: Int64(bitPattern: try reader.readUInt64()))
        guard !reader.isAtEnd else { return event }
        if try reader.readUInt8() == 2 {  // LOGICAL_TIMESTAMP_TYPECODE
            event.lastCommitted = Int64(bitPattern: try reader.readUInt64())
            event.sequenceNumber = Int64(bitPattern: try reader.readUInt64())
        }
        guard reader.remaining >= 7 else { return event }
        let immediate = try reader.readLittleEndian(7)
        event.immediateCommitTimestamp = immediate & ~(1 << 55)
        if immediate & (1 << 55) != 0 {
            event.originalCommitTimestamp = try reader.readLittleEndian(7)
        } else {
            event.originalCommitTimestamp = event.immediateCommitTimestamp
        }
        guard !reader.isAtEnd else { return event }
        event.transactionLength = try reader.readLengthEncoded()
        guard reader.remaining >= 4 else { return event }
        let immediateVersion = try reader.readUInt32()
        event.immediateServerVersion = immediateVersion & ~(1 << 31)
        if immediateVersion & (1 << 31) != 0 {
            event.originalServerVersion = try reader.readUInt32()
        } else {
            event.originalServerVersion = event.immediateServerVersion
        }
        return event
    }

    /// GTID_TAGGED_LOG_EVENT (MySQL 8.4+): fields in MySQL's serialization format
    /// (`libs/mysql/serialization`): a version, the message size, the last non-ignorable field id,
    /// then (field id, value) pairs with variable-length integers; signed ones zig-zag encoded.
    private func decodeTaggedGTID(_ reader: inout ByteReader) throws(BinlogError) -> GTIDEvent {
        _ = try reader.readSerializedInteger()  // format version
        let size = try reader.readSerializedInteger()
        _ = try reader.readSerializedInteger()  // last non-ignorable field id
        guard size <= UInt64(reader.bytes.count) else {
            throw BinlogError(.corrupt, "tagged GTID message size \(size) exceeds the event body")
        }
        var event = GTIDEvent(isAnonymous: false, flags: 0, sid: UUID16(high: 0, low: 0), gno: 0)
        func signed(_ value: UInt64) -> Int64 { Int64(bitPattern: value >> 1) ^ -Int64(bitPattern: value & 1) }
        while reader.position < Int(size) {
            let field = try reader.readSerializedInteger()
            switch field {
            case 0: event.flags = UInt8(truncatingIfNeeded: try reader.readSerializedInteger())
            case 1:
                var uuid: (UInt64, UInt64) = (0, 0)
                for index in 0..<16 {
                    let byte = try reader.readSerializedInteger() & 0xFF
                    if index < 8 { uuid.0 = uuid.0 << 8 | byte } else { uuid.1 = uuid.1 << 8 | byte }
                }
                event.sid = UUID16(high: uuid.0, low: uuid.1)
            case 2: event.gno = signed(try reader.readSerializedInteger())
            case 3:
                let length = Int(try reader.readSerializedInteger())
                let tag = try reader.readBytes(length, "GTID tag")
                event.tag = tag.isEmpty ? nil : String(decoding: tag, as: UTF8.self)
            case 4: event.lastCommitted = signed(try reader.readSerializedInteger())
            case 5: event.sequenceNumber = signed(try reader.readSerializedInteger())
            case 6: event.immediateCommitTimestamp = try reader.readSerializedInteger()
            case 7: event.originalCommitTimestamp = try reader.readSerializedInteger()
            case 8: event.transactionLength = try reader.readSerializedInteger()
            case 9: event.immediateServerVersion = UInt32(truncatingIfNeeded: try reader.readSerializedInteger())
            case 10: event.originalServerVersion = UInt32(truncatingIfNeeded: try reader.readSerializedInteger())
            case 11: _ = try reader.readSerializedInteger()  // commit_group_ticket
            default:
                throw BinlogError(.unsupported, "tagged GTID field \(field) is unknown to this decoder")
            }
        }
        // Omitted "original" fields equal the immediate ones.
        if event.originalCommitTimestamp == nil { event.originalCommitTimestamp = event.immediateCommitTimestamp }
        if event.originalServerVersion == nil { event.originalServerVersion = event.immediateServerVersion }
        return event
    }

    private func decodeHeartbeatV2(_ reader: inout ByteReader) throws(BinlogError) -> HeartbeatEvent {
        var name = UnsafeRawBufferPointer(start: nil, count: 0)
        var position: UInt64 = 0
        while !reader.isAtEnd {
            let field = try reader.readLengthEncoded()
            if field == 0 { break }  // OTW_HB_HEADER_END_MARK
            let value = try reader.readLengthEncodedBytes()
            switch field {
            case 1: name = value
            case 2:
                var valueReader = ByteReader(value)
                position = try valueReader.readLengthEncoded()
            default: break
            }
        }
        return HeartbeatEvent(logFileName: name, position: position)
    }

    private func decodeTransactionPayload(_ reader: inout ByteReader) throws(BinlogError) -> TransactionPayloadEvent {
        var compression = TransactionPayloadEvent.none
        var uncompressedSize: UInt64 = 0
        var payloadSize: UInt64?
        while !reader.isAtEnd {
            let field = try reader.readLengthEncoded()
            if field == 0 { break }  // OTW_PAYLOAD_HEADER_END_MARK
            let length = try reader.readLengthEncodedCount()
            var valueReader = ByteReader(try reader.readBytes(length, "payload header field"))
            switch field {
            case 1: payloadSize = try valueReader.readLengthEncoded()
            case 2: compression = try valueReader.readLengthEncoded()
            case 3: uncompressedSize = try valueReader.readLengthEncoded()
            default: break
            }
        }
        let payloadOffset = reader.baseOffset + reader.position
        let payload = reader.readRest()
        if let payloadSize, payloadSize != UInt64(payload.count) {
            throw BinlogError(
                .corrupt, "payload size field says \(payloadSize) bytes, the event holds \(payload.count)",
                offset: payloadOffset)
        }
        return TransactionPayloadEvent(
            compression: compression, uncompressedSize: uncompressedSize, payload: payload,
            payloadOffset: payloadOffset)
    }

    private func decodeMariaDBGTID(_ reader: inout ByteReader, serverID: UInt32) throws(BinlogError)
        -> MariaDBGTIDEvent
    {
        let sequence = try reader.readUInt64()
        let domain = try reader.readUInt32()
        let flags = try reader.readUInt8()
        var commitID: UInt64?
        if flags & 0x02 != 0 { commitID = try reader.readUInt64() }
        return MariaDBGTIDEvent(
            gtid: MariaDBGTID(domainID: domain, serverID: serverID, sequence: sequence), flags: flags,
            commitID: commitID)
    }

    /// MariaDB's compressed-event body (`binlog_buf_uncompress`): a byte 0x80 | n, the
    /// uncompressed length in n (1–4) big-endian bytes, then a zlib stream.
    private func decompressMariaDB(_ bytes: UnsafeRawBufferPointer, offset: Int) throws(BinlogError)
        -> UnsafeRawBufferPointer
    {
        var reader = ByteReader(bytes, baseOffset: offset)
        let first = try reader.readUInt8()
        let lengthBytes = Int(first & 0x07)
        guard first & 0x80 != 0, (1...4).contains(lengthBytes) else {
            throw BinlogError(.corrupt, "compressed event header byte 0x\(String(first, radix: 16))", offset: offset)
        }
        let length = Int(try reader.readBigEndian(lengthBytes))
        guard length <= maximumDecompressedSize else {
            throw BinlogError(.corrupt, "compressed event claims \(length) bytes uncompressed", offset: offset)
        }
        let compressed = reader.readRest()
        let output = scratch.reserve(length)
        var produced = UInt(length)
        let status = CZlib.uncompress(
            output.baseAddress?.assumingMemoryBound(to: UInt8.self), &produced,
            compressed.baseAddress?.assumingMemoryBound(to: UInt8.self), UInt(compressed.count))
        guard status == Z_OK, produced == UInt(length) else {
            throw BinlogError(
                .corrupt, "zlib could not decompress the event (status \(status), \(produced) of \(length) bytes)",
                offset: offset)
        }
        return UnsafeRawBufferPointer(rebasing: output[0..<length])
    }
}

/// Reusable memory for decompressed event bodies. Owned by one decoder.
final class ScratchBuffer {
    private(set) var storage = UnsafeMutableRawBufferPointer(start: nil, count: 0)

    func reserve(_ count: Int) -> UnsafeMutableRawBufferPointer {
        if storage.count < count {
            storage.deallocate()
            storage = .allocate(byteCount: Swift.max(count, 4096), alignment: 16)
        }
        return storage
    }

    deinit { storage.deallocate() }
}

extension ByteReader {
    /// MySQL serialization's variable-length unsigned integer: the count of trailing one bits of
    /// the first byte gives the extra bytes (8 = a full 8-byte value follows).

    mutating func readSerializedInteger() throws(BinlogError) -> UInt64 {
        let first = try readUInt8()
        let extra = first.trailingZeroBitCount == 0 ? (~first).trailingZeroBitCount : 0
        if extra == 8 { return try readLittleEndian(8) }
        position -= 1
        let raw = try readLittleEndian(extra + 1)
        return raw >> UInt64(extra + 1)
    }
}
