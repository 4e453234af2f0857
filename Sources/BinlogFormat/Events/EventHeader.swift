/// The common v4 event header: 19 bytes in front of every event.
///
/// Layout (MySQL internals, "Binlog Event Header"): timestamp u32, type u8, server_id u32,
/// event_size u32, log_pos u32, flags u16, all little-endian.
public struct EventHeader: Sendable, Equatable {
    public static let length = 19

    /// Seconds since the Unix epoch when the statement began on the source.
    public var timestamp: UInt32
    public var type: EventType
    public var serverID: UInt32
    /// Size of the whole event: header, body and checksum.
    public var eventSize: UInt32
    /// Position of the next event in the source's binlog (0 for artificial events).
    public var logPosition: UInt32
    public var flags: UInt16

    /// `LOG_EVENT_BINLOG_IN_USE_F`: the file was not closed cleanly (only on FORMAT_DESCRIPTION).
    public static let binlogInUseFlag: UInt16 = 0x1
    /// `LOG_EVENT_ARTIFICIAL_F`: made up by the server for a replica (fake ROTATE, FDE).
    public static let artificialFlag: UInt16 = 0x20

    public init(
        timestamp: UInt32, type: EventType, serverID: UInt32, eventSize: UInt32, logPosition: UInt32, flags: UInt16
    ) {
        self.timestamp = timestamp
        self.type = type
        self.serverID = serverID
        self.eventSize = eventSize
        self.logPosition = logPosition
        self.flags = flags
    }

    /// Decodes a header from the first 19 bytes of `bytes`; `offset` is where they start, for errors.

    public init(decoding bytes: UnsafeRawBufferPointer, offset: Int = 0) throws(BinlogError) {
        guard bytes.count >= EventHeader.length else {
            throw BinlogError(
                .truncated, "event header needs 19 bytes, \(bytes.count) left", offset: offset)
        }
        self.init(validated: bytes)
    }

    /// Decodes a header from bytes known to hold at least 19.
    init(validated bytes: UnsafeRawBufferPointer) {
        timestamp = UInt32(bytes.loadLittleEndian(at: 0, width: 4))
        type = EventType(rawValue: bytes[4])
        serverID = UInt32(bytes.loadLittleEndian(at: 5, width: 4))
        eventSize = UInt32(bytes.loadLittleEndian(at: 9, width: 4))
        logPosition = UInt32(bytes.loadLittleEndian(at: 13, width: 4))
        flags = UInt16(bytes.loadLittleEndian(at: 17, width: 2))
    }
}
