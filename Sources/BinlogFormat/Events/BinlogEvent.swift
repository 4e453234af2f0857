/// One decoded event: where it was, its header, its raw bytes and what it says.
///
/// A view: `bytes` and every byte range inside `payload` point into the buffer the event
/// was decoded from (or into the decoder's scratch space for decompressed events). They are
/// valid until the next event is decoded; copy what must live longer.
public struct BinlogEvent {
    /// Offset of the event's first byte in the file or stream.
    public let offset: Int
    /// The whole event as received: header, body and checksum.
    public let bytes: UnsafeRawBufferPointer
    public let payload: EventPayload

    // The header is read from `bytes` when asked for rather than stored: an event is copied
    // several times on its way out of the decoder, and at 128 bytes or less a copy is a few
    // register moves instead of a call to memcpy.
    init(offset: Int, bytes: UnsafeRawBufferPointer, payload: EventPayload) {
        self.offset = offset
        self.bytes = bytes
        self.payload = payload
    }

    /// The common header (the decoder checked that `bytes` holds one).
    public var header: EventHeader { EventHeader(validated: bytes) }
    public var type: EventType { EventType(rawValue: bytes[4]) }
}

/// What an event says, by type.
public enum EventPayload {
    case formatDescription(FormatDescription)
    case query(QueryEvent)
    case rotate(RotateEvent)
    case stop
    case xid(UInt64)
    case intvar(IntvarEvent)
    case rand(seed1: UInt64, seed2: UInt64)
    case userVariable(UserVariableEvent)
    case tableMap(TableMap)
    case rows(RowsEvent)
    /// MySQL GTID_LOG_EVENT, ANONYMOUS_GTID_LOG_EVENT and GTID_TAGGED_LOG_EVENT.
    case gtid(GTIDEvent)
    case previousGTIDs(GTIDSet)
    case rowsQuery(UnsafeRawBufferPointer)
    case heartbeat(HeartbeatEvent)
    case transactionPayload(TransactionPayloadEvent)
    case xaPrepare(XAPrepareEvent)
    case incident(IncidentEvent)
    /// LOAD DATA file blocks (APPEND_BLOCK, BEGIN_LOAD_QUERY): file id and data.
    case loadData(fileID: UInt32, data: UnsafeRawBufferPointer)
    case mariadbGTID(MariaDBGTIDEvent)
    case mariadbGTIDList([MariaDBGTID])
    case binlogCheckpoint(fileName: UnsafeRawBufferPointer)
    case annotateRows(UnsafeRawBufferPointer)
    /// An event the relay carries but does not interpret (IGNORABLE, TRANSACTION_CONTEXT,
    /// VIEW_CHANGE, pre-5.0 LOAD events, and codes it does not know). `body` excludes the checksum.
    case opaque(body: UnsafeRawBufferPointer)
}

/// QUERY_EVENT (and MariaDB's QUERY_COMPRESSED, EXECUTE_LOAD_QUERY): a statement and its session context.
public struct QueryEvent {
    public let threadID: UInt32
    public let executionTime: UInt32
    public let errorCode: UInt16
    /// Status variables, raw; ``statusVariables()`` decodes them.
    public let rawStatusVariables: UnsafeRawBufferPointer
    public let schema: UnsafeRawBufferPointer
    public let query: UnsafeRawBufferPointer

    public var schemaName: String { String(decoding: schema, as: UTF8.self) }
    public var queryText: String { String(decoding: query, as: UTF8.self) }

    /// True for the `BEGIN` that opens a transaction in the binlog.
    public var isBegin: Bool { query.elementsEqual("BEGIN".utf8) }
    public var isCommit: Bool { query.elementsEqual("COMMIT".utf8) }
    public var isRollback: Bool { query.elementsEqual("ROLLBACK".utf8) }

    public func statusVariables() throws(BinlogError) -> QueryStatusVariables {
        try QueryStatusVariables(rawStatusVariables)
    }
}

/// The session settings a QUERY_EVENT carries (MySQL `Query_log_event` status variables).
public struct QueryStatusVariables: Sendable, Equatable {
    public var flags2: UInt32?
    public var sqlMode: UInt64?
    public var catalog: String?
    public var autoIncrementIncrement: UInt16?
    public var autoIncrementOffset: UInt16?
    /// character_set_client, collation_connection, collation_server (collation ids).
    public var charsetClient: UInt16?
    public var collationConnection: UInt16?
    public var collationServer: UInt16?
    public var timeZone: String?
    public var lcTimeNames: UInt16?
    public var collationDatabase: UInt16?
    public var tableMapForUpdate: UInt64?
    public var invokerUser: String?
    public var invokerHost: String?
    public var updatedDatabases: [String]?
    public var microseconds: UInt32?
    public var explicitDefaultsForTimestamp: Bool?
    public var ddlXID: UInt64?
    public var defaultCollationForUTF8MB4: UInt16?
    public var sqlRequirePrimaryKey: UInt8?
    public var defaultTableEncryption: UInt8?
    /// MariaDB: Q_XID of a DDL, Q_HRNOW microseconds, Q_GTID_FLAGS3.
    public var xid: UInt64?
    /// Codes this decoder did not know; decoding stops at the first (their length is unknown).
    public var unknownCode: UInt8?

    init(_ bytes: UnsafeRawBufferPointer) throws(BinlogError) {
        var reader = ByteReader(bytes)
        func string(_ count: Int) throws(BinlogError) -> String {
            String(decoding: try reader.readBytes(count, "status variable"), as: UTF8.self)
        }
        while !reader.isAtEnd {
            let code = try reader.readUInt8()
            switch code {
            case 0: flags2 = try reader.readUInt32()
            case 1: sqlMode = try reader.readUInt64()
            case 2:  // Q_CATALOG_CODE (5.0.0-5.0.3): length, bytes, NUL
                catalog = try string(Int(try reader.readUInt8()))
                try reader.skip(1)
            case 3:
                autoIncrementIncrement = try reader.readUInt16()
                autoIncrementOffset = try reader.readUInt16()
            case 4:
                charsetClient = try reader.readUInt16()
                collationConnection = try reader.readUInt16()
                collationServer = try reader.readUInt16()
            case 5: timeZone = try string(Int(try reader.readUInt8()))
            case 6: catalog = try string(Int(try reader.readUInt8()))
            case 7: lcTimeNames = try reader.readUInt16()
            case 8: collationDatabase = try reader.readUInt16()
            case 9: tableMapForUpdate = try reader.readUInt64()
            case 10: try reader.skip(4)  // Q_MASTER_DATA_WRITTEN_CODE
            case 11:
                invokerUser = try string(Int(try reader.readUInt8()))
                invokerHost = try string(Int(try reader.readUInt8()))
            case 12:
                let count = Int(try reader.readUInt8())
                var names: [String] = []
                if count != 254 {  // OVER_MAX_DBS_IN_EVENT_MTS: no names follow
                    for _ in 0..<count {
                        let rest = UnsafeRawBufferPointer(rebasing: reader.bytes[reader.position...])
                        guard let end = rest.firstIndex(of: 0) else {
                            throw BinlogError(.truncated, "updated database name has no NUL")
                        }
                        names.append(try string(end))
                        try reader.skip(1)
                    }
                }
                updatedDatabases = names
            case 13: microseconds = UInt32(try reader.readLittleEndian(3))
            case 14: try reader.skip(8)  // Q_COMMIT_TS (never written)
            case 15: try reader.skip(8)  // Q_COMMIT_TS2
            case 16: explicitDefaultsForTimestamp = try reader.readUInt8() != 0
            case 17: ddlXID = try reader.readUInt64()
            case 18: defaultCollationForUTF8MB4 = try reader.readUInt16()
            case 19: sqlRequirePrimaryKey = try reader.readUInt8()
            case 20: defaultTableEncryption = try reader.readUInt8()
            case 128: microseconds = UInt32(try reader.readLittleEndian(3))  // MariaDB Q_HRNOW
            case 129: xid = try reader.readUInt64()  // MariaDB Q_XID
            case 130: try reader.skip(1)  // MariaDB Q_GTID_FLAGS3
            case 131:  // MariaDB Q_CHARACTER_SET_COLLATIONS: count, then pairs of u16
                let count = Int(try reader.readUInt8())
                try reader.skip(count * 4)
            default:
                unknownCode = code
                return
            }
        }
    }
}

/// ROTATE_EVENT: the next binlog file and the position to continue at.
public struct RotateEvent {
    public let position: UInt64
    public let fileName: UnsafeRawBufferPointer
    public var fileNameString: String { String(decoding: fileName, as: UTF8.self) }
}

public struct IntvarEvent: Sendable, Equatable {
    /// 1 = LAST_INSERT_ID, 2 = INSERT_ID.
    public let kind: UInt8
    public let value: UInt64
}

/// USER_VAR_EVENT: a user variable a statement used.
public struct UserVariableEvent {
    public let name: UnsafeRawBufferPointer
    /// Nil when the variable is NULL.
    public let valueType: UInt8?
    public let collation: UInt32
    public let value: UnsafeRawBufferPointer
    public let flags: UInt8
}

/// HEARTBEAT_LOG_EVENT (v1 and v2): the source is alive and at this position.
public struct HeartbeatEvent {
    public let logFileName: UnsafeRawBufferPointer
    public let position: UInt64
}

public struct XAPrepareEvent {
    public let onePhase: Bool
    public let formatID: Int32
    public let gtrid: UnsafeRawBufferPointer
    public let bqual: UnsafeRawBufferPointer
}

public struct IncidentEvent {
    public let kind: UInt16
    public let message: UnsafeRawBufferPointer
}

/// MariaDB GTID_EVENT: starts a transaction (or a standalone statement) with domain-server-seq.
public struct MariaDBGTIDEvent: Sendable, Equatable {
    public let gtid: MariaDBGTID
    public let flags: UInt8
    public let commitID: UInt64?

    /// FL_STANDALONE: no BEGIN/COMMIT follows (DDL and non-transactional statements).
    public var isStandalone: Bool { flags & 0x01 != 0 }
    public var isGroupCommit: Bool { flags & 0x02 != 0 }
    public var isTransactional: Bool { flags & 0x08 != 0 }
    public var isDDL: Bool { flags & 0x20 != 0 }
    public var isPreparedXA: Bool { flags & 0x40 != 0 }
    public var isCompletedXA: Bool { flags & 0x80 != 0 }
}

/// MySQL TRANSACTION_PAYLOAD_EVENT: a whole transaction's events, usually zstd-compressed.
/// Iterate its events with ``BinlogDecoder/forEachEvent(in:_:)``.
public struct TransactionPayloadEvent {
    /// 0 = ZSTD, 255 = NONE.
    public let compression: UInt64
    public let uncompressedSize: UInt64
    public let payload: UnsafeRawBufferPointer
    /// Offset of `payload` in the stream.
    let payloadOffset: Int

    public static let zstd: UInt64 = 0
    public static let none: UInt64 = 255
}
