/// A binlog event type code. A struct over the raw byte, not an enum, so that a code this
/// relay does not know survives decoding as an opaque event.
///
/// Codes: MySQL `libbinlogevents/include/binlog_event.h` (`enum Log_event_type`) and MariaDB
/// `sql/log_event.h` (160 and up).
public struct EventType: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    public static let unknown = EventType(rawValue: 0)
    public static let startV3 = EventType(rawValue: 1)
    public static let query = EventType(rawValue: 2)
    public static let stop = EventType(rawValue: 3)
    public static let rotate = EventType(rawValue: 4)
    public static let intvar = EventType(rawValue: 5)
    public static let load = EventType(rawValue: 6)
    public static let slave = EventType(rawValue: 7)
    public static let createFile = EventType(rawValue: 8)
    public static let appendBlock = EventType(rawValue: 9)
    public static let execLoad = EventType(rawValue: 10)
    public static let deleteFile = EventType(rawValue: 11)
    public static let newLoad = EventType(rawValue: 12)
    public static let rand = EventType(rawValue: 13)
    public static let userVar = EventType(rawValue: 14)
    public static let formatDescription = EventType(rawValue: 15)
    public static let xid = EventType(rawValue: 16)
    public static let beginLoadQuery = EventType(rawValue: 17)
    public static let executeLoadQuery = EventType(rawValue: 18)
    public static let tableMap = EventType(rawValue: 19)
    public static let preGAWriteRows = EventType(rawValue: 20)
    public static let preGAUpdateRows = EventType(rawValue: 21)
    public static let preGADeleteRows = EventType(rawValue: 22)
    public static let writeRowsV1 = EventType(rawValue: 23)
    public static let updateRowsV1 = EventType(rawValue: 24)
    public static let deleteRowsV1 = EventType(rawValue: 25)
    public static let incident = EventType(rawValue: 26)
    public static let heartbeat = EventType(rawValue: 27)
    public static let ignorable = EventType(rawValue: 28)
    public static let rowsQuery = EventType(rawValue: 29)
    public static let writeRowsV2 = EventType(rawValue: 30)
    public static let updateRowsV2 = EventType(rawValue: 31)
    public static let deleteRowsV2 = EventType(rawValue: 32)
    public static let gtid = EventType(rawValue: 33)
    public static let anonymousGTID = EventType(rawValue: 34)
    public static let previousGTIDs = EventType(rawValue: 35)
    public static let transactionContext = EventType(rawValue: 36)
    public static let viewChange = EventType(rawValue: 37)
    public static let xaPrepare = EventType(rawValue: 38)
    public static let partialUpdateRows = EventType(rawValue: 39)
    public static let transactionPayload = EventType(rawValue: 40)
    public static let heartbeatV2 = EventType(rawValue: 41)
    public static let gtidTagged = EventType(rawValue: 42)

    public static let mariadbAnnotateRows = EventType(rawValue: 160)
    public static let mariadbBinlogCheckpoint = EventType(rawValue: 161)
    public static let mariadbGTID = EventType(rawValue: 162)
    public static let mariadbGTIDList = EventType(rawValue: 163)
    public static let mariadbStartEncryption = EventType(rawValue: 164)
    public static let mariadbQueryCompressed = EventType(rawValue: 165)
    public static let mariadbWriteRowsCompressedV1 = EventType(rawValue: 166)
    public static let mariadbUpdateRowsCompressedV1 = EventType(rawValue: 167)
    public static let mariadbDeleteRowsCompressedV1 = EventType(rawValue: 168)
    public static let mariadbWriteRowsCompressed = EventType(rawValue: 169)
    public static let mariadbUpdateRowsCompressed = EventType(rawValue: 170)
    public static let mariadbDeleteRowsCompressed = EventType(rawValue: 171)
    public static let mariadbPartialRowData = EventType(rawValue: 172)

    /// The name as the servers' sources spell it (`WRITE_ROWS_EVENT_V2`), or `UNKNOWN(n)`.
    public var name: String {
        let index = Int(rawValue)
        if index < Self.mysqlNames.count { return Self.mysqlNames[index] }
        if index >= 160, index - 160 < Self.mariadbNames.count { return Self.mariadbNames[index - 160] }
        return "UNKNOWN(\(rawValue))"
    }

    public var description: String { name }

    /// Whether this is one of the row events (any version, compressed or not).
    public var isRowsEvent: Bool {
        (20...25).contains(rawValue) || (30...32).contains(rawValue) || rawValue == 39 || (166...171).contains(rawValue)
    }

    private static let mysqlNames = [
        "UNKNOWN_EVENT", "START_EVENT_V3", "QUERY_EVENT", "STOP_EVENT", "ROTATE_EVENT", "INTVAR_EVENT",
        "LOAD_EVENT", "SLAVE_EVENT", "CREATE_FILE_EVENT", "APPEND_BLOCK_EVENT", "EXEC_LOAD_EVENT",
        "DELETE_FILE_EVENT", "NEW_LOAD_EVENT", "RAND_EVENT", "USER_VAR_EVENT", "FORMAT_DESCRIPTION_EVENT",
        "XID_EVENT", "BEGIN_LOAD_QUERY_EVENT", "EXECUTE_LOAD_QUERY_EVENT", "TABLE_MAP_EVENT",
        "PRE_GA_WRITE_ROWS_EVENT", "PRE_GA_UPDATE_ROWS_EVENT", "PRE_GA_DELETE_ROWS_EVENT",
        "WRITE_ROWS_EVENT_V1", "UPDATE_ROWS_EVENT_V1", "DELETE_ROWS_EVENT_V1", "INCIDENT_EVENT",
        "HEARTBEAT_LOG_EVENT", "IGNORABLE_LOG_EVENT", "ROWS_QUERY_LOG_EVENT", "WRITE_ROWS_EVENT_V2",
        "UPDATE_ROWS_EVENT_V2", "DELETE_ROWS_EVENT_V2", "GTID_LOG_EVENT", "ANONYMOUS_GTID_LOG_EVENT",
        "PREVIOUS_GTIDS_LOG_EVENT", "TRANSACTION_CONTEXT_EVENT", "VIEW_CHANGE_EVENT", "XA_PREPARE_LOG_EVENT",
        "PARTIAL_UPDATE_ROWS_EVENT", "TRANSACTION_PAYLOAD_EVENT", "HEARTBEAT_LOG_EVENT_V2",
        "GTID_TAGGED_LOG_EVENT",
    ]
    private static let mariadbNames = [
        "MARIADB_ANNOTATE_ROWS_EVENT", "MARIADB_BINLOG_CHECKPOINT_EVENT", "MARIADB_GTID_EVENT",
        "MARIADB_GTID_LIST_EVENT", "MARIADB_START_ENCRYPTION_EVENT", "MARIADB_QUERY_COMPRESSED_EVENT",
        "MARIADB_WRITE_ROWS_COMPRESSED_EVENT_V1", "MARIADB_UPDATE_ROWS_COMPRESSED_EVENT_V1",
        "MARIADB_DELETE_ROWS_COMPRESSED_EVENT_V1", "MARIADB_WRITE_ROWS_COMPRESSED_EVENT",
        "MARIADB_UPDATE_ROWS_COMPRESSED_EVENT", "MARIADB_DELETE_ROWS_COMPRESSED_EVENT",
        "MARIADB_PARTIAL_ROW_DATA_EVENT",
    ]
}
