/// A replication stream: registers as a replica, starts a binlog dump and hands each event's
/// raw bytes to the caller. The library moves bytes; the relay's own decoder parses them, so an
/// event type the library does not know can never stop the stream.
///
/// Protocol (MySQL internals, "Replication Protocol"): COM_REGISTER_SLAVE (0x15), then
/// COM_BINLOG_DUMP (0x12) or COM_BINLOG_DUMP_GTID (0x1E); every reply packet is `0x00` + event,
/// `0xFE` = end of a non-blocking dump, `0xFF` = error. With semi-sync on, `0xEF` and a flags
/// byte (bit 0: ACK requested) follow the `0x00`.
public final class BinlogStream {
    public enum Start: Sendable, Equatable {
        /// A binlog file and position (4 = the start of the file).
        case filePosition(file: String, position: UInt64)
        /// MariaDB: the GTID position to continue after ("0-1-42,7-1-3"); strict mode.
        case mariadbGTID(String)
        /// MySQL: the executed GTID set, encoded as in PREVIOUS_GTIDS (the server sends what is missing).
        case mysqlGTID(encodedSet: [UInt8])
    }

    public struct Options: Sendable {
        /// The replica server id to register with (unique among the source's replicas).
        public var serverID: UInt32
        /// Heartbeat period; 0 = none. Heartbeats tell an idle source from a dead link.
        public var heartbeatPeriodSeconds: Double
        /// Ask the source for ANNOTATE_ROWS events (MariaDB; the statement text of row events).
        public var annotateRows: Bool
        /// Return end-of-stream when caught up instead of waiting (BINLOG_DUMP_NON_BLOCK).
        public var nonBlocking: Bool
        /// Register as a semi-synchronous replica (the source must have semi-sync enabled).
        public var semiSync: Bool
        /// Host name and port reported in SHOW SLAVE HOSTS.
        public var reportHost: String
        public var reportPort: UInt16

        public init(
            serverID: UInt32, heartbeatPeriodSeconds: Double = 5, annotateRows: Bool = true, nonBlocking: Bool = false,
            semiSync: Bool = false, reportHost: String = "binlog-relay", reportPort: UInt16 = 0
        ) {
            self.serverID = serverID
            self.heartbeatPeriodSeconds = heartbeatPeriodSeconds
            self.annotateRows = annotateRows
            self.nonBlocking = nonBlocking
            self.semiSync = semiSync
            self.reportHost = reportHost
            self.reportPort = reportPort
        }
    }

    /// What the stream produced.
    public enum Packet {
        /// One whole event (header, body, checksum) as the source sent it; valid until the next read.
        case event(UnsafeRawBufferPointer, acknowledgementRequested: Bool)
        /// A non-blocking dump reached the end of the binlog.
        case endOfStream
    }

    public let connection: MySQLConnection
    public let options: Options
    /// Whether this dump is registered as a semi-synchronous replica (the source has semi-sync
    /// available; it asks for ACKs while its semi-sync is enabled and on).
    public private(set) var semiSyncActive = false
    /// The source's semi-sync setting (`rpl_semi_sync_master_enabled`) when the dump started.
    public private(set) var sourceSemiSyncEnabled = false

    /// Sets the session up for replication and starts the dump.
    public init(connection: MySQLConnection, options: Options, start: Start) throws(MySQLError) {
        self.connection = connection
        self.options = options
        try prepareSession()
        try register()
        try dump(from: start)
    }

    private func prepareSession() throws(MySQLError) {
        // Checksums: ask for events exactly as the binlog holds them (CRC32 when it has them).
        try connection.execute("SET @master_binlog_checksum = @@global.binlog_checksum")
        if connection.isMariaDB {
            // 4 = MARIA_SLAVE_CAPABILITY_GTID: GTID events, annotate rows and the other MariaDB events.
            try connection.execute("SET @mariadb_slave_capability = 4")
        }
        if options.heartbeatPeriodSeconds > 0 {
            let nanoseconds = UInt64(options.heartbeatPeriodSeconds * 1_000_000_000)
            try connection.execute("SET @master_heartbeat_period = \(nanoseconds)")
        }
        if options.semiSync {
            // Only servers with semi-sync available know the variable (MariaDB 10.3+ always; MySQL
            // with the plugin loaded: rpl_semi_sync_source_enabled from 8.0.26, _master_ before);
            // absence means async. Registration does not depend on the variable being ON: a source
            // that enables semi-sync later asks this same dump for ACKs without a reconnect.
            // MySQL: the 8.0.26+ plugin (semisync_source) reads @rpl_semi_sync_replica, the older
            // one @rpl_semi_sync_slave; setting both is harmless.
            let names =
                connection.isMariaDB
                ? [("rpl_semi_sync_master_enabled", "SET @rpl_semi_sync_slave = 1")]
                : [("rpl_semi_sync_source_enabled", "SET @rpl_semi_sync_replica = 1, @rpl_semi_sync_slave = 1"),
                   ("rpl_semi_sync_master_enabled", "SET @rpl_semi_sync_slave = 1, @rpl_semi_sync_replica = 1")]
            for (variable, statement) in names {
                guard let enabled = try? connection.query("SELECT @@global.\(variable)").scalar else { continue }
                try connection.execute(statement)
                semiSyncActive = true
                sourceSemiSyncEnabled = enabled == "1" || enabled.uppercased() == "ON"
                break
            }
        }
    }

    private func register() throws(MySQLError) {
        var argument: [UInt8] = []
        argument.appendLittleEndian(options.serverID, width: 4)
        for text in [options.reportHost, "", ""] {  // host, user, password (not reported)
            let bytes = Array(text.utf8.prefix(255))
            argument.append(UInt8(bytes.count))
            argument.append(contentsOf: bytes)
        }
        argument.appendLittleEndian(UInt32(options.reportPort), width: 2)
        argument.appendLittleEndian(0, width: 4)  // replication rank
        argument.appendLittleEndian(0, width: 4)  // master id
        try connection.sendCommand(0x15, argument, expectReply: true)
    }

    private func dump(from start: Start) throws(MySQLError) {
        var flags: UInt16 = 0
        if options.nonBlocking { flags |= 0x01 }
        if options.annotateRows && connection.isMariaDB { flags |= 0x02 }  // BINLOG_SEND_ANNOTATE_ROWS
        switch start {
        case .filePosition(let file, let position):
            try sendDump(file: file, position: position, flags: flags)
        case .mariadbGTID(let state):
            try connection.execute("SET @slave_connect_state = '\(connection.escape(state))'")
            try connection.execute("SET @slave_gtid_strict_mode = 1")
            try connection.execute("SET @slave_gtid_ignore_duplicates = 0")
            try sendDump(file: "", position: 4, flags: flags)
        case .mysqlGTID(let encodedSet):
            var argument: [UInt8] = []
            argument.appendLittleEndian(UInt64(flags | 0x04), width: 2)  // 0x04: BINLOG_THROUGH_GTID
            argument.appendLittleEndian(options.serverID, width: 4)
            argument.appendLittleEndian(0, width: 4)  // binlog name length: none
            argument.appendLittleEndian(4, width: 8)  // position
            argument.appendLittleEndian(UInt64(encodedSet.count), width: 4)
            argument.append(contentsOf: encodedSet)
            try connection.sendCommand(0x1E, argument, expectReply: false)
        }
    }

    private func sendDump(file: String, position: UInt64, flags: UInt16) throws(MySQLError) {
        var argument: [UInt8] = []
        // COM_BINLOG_DUMP carries a 4-byte position; files past 4 GiB need the GTID dump.
        argument.appendLittleEndian(UInt64(UInt32(truncatingIfNeeded: position)), width: 4)
        argument.appendLittleEndian(UInt64(flags), width: 2)
        argument.appendLittleEndian(options.serverID, width: 4)
        argument.append(contentsOf: file.utf8)
        try connection.sendCommand(0x12, argument, expectReply: false)
    }

    /// Whether the next packet (or part of it) has already arrived: the source is streaming a
    /// backlog rather than waiting for new commits. The relay batches fsyncs while it is.
    public var hasPendingInput: Bool { connection.hasPendingInput }

    /// Reads the next packet of the stream. Blocks up to the connection's read timeout.
    public func next() throws(MySQLError) -> Packet {
        let packet = try connection.readPacket(operation: "read binlog stream from \(connection.configuration.endpoint)")
        guard let first = packet.first else {
            throw MySQLError(.protocolViolation, message: "empty packet on the binlog stream", operation: "binlog dump")
        }
        switch first {
        case 0x00:
            if semiSyncActive && packet.count >= 3 && packet[1] == 0xEF && Self.eventSize(packet, at: 3) == packet.count - 3 {
                // The semi-sync header. Checked against the event's own size field too: an event
                // without the header whose timestamp happens to begin with 0xEF must not lose two bytes.
                return .event(UnsafeRawBufferPointer(rebasing: packet[3...]), acknowledgementRequested: packet[2] & 1 != 0)
            }
            return .event(UnsafeRawBufferPointer(rebasing: packet[1...]), acknowledgementRequested: false)
        case 0xFE where packet.count < 9:
            return .endOfStream
        case 0xFF:
            throw Self.errorPacket(packet)
        default:
            throw MySQLError(
                .protocolViolation, message: "unexpected packet 0x\(String(first, radix: 16)) on the binlog stream",
                operation: "binlog dump")
        }
    }

    /// The size field (bytes 9..<13) of an event header that starts at `offset`, or -1.
    static func eventSize(_ packet: UnsafeRawBufferPointer, at offset: Int) -> Int {
        guard packet.count >= offset + 13 else { return -1 }
        return Int(packet[offset + 9]) | Int(packet[offset + 10]) << 8 | Int(packet[offset + 11]) << 16
            | Int(packet[offset + 12]) << 24
    }

    /// Acknowledges a transaction to a semi-sync source: the binlog file and the end position
    /// of the transaction's last event (call only after it is durable).
    public func acknowledge(file: String, position: UInt64) throws(MySQLError) {
        var argument: [UInt8] = []
        argument.appendLittleEndian(position, width: 8)
        argument.append(contentsOf: file.utf8)
        // The ACK packet begins with the magic byte 0xEF, which doubles as the command code.
        try connection.sendCommand(0xEF, argument, expectReply: false)
    }

    /// Error packet: 0xFF, error code u16, '#', SQL state (5), message.
    static func errorPacket(_ packet: UnsafeRawBufferPointer) -> MySQLError {
        guard packet.count >= 3 else {
            return MySQLError(.server, message: "short error packet", operation: "binlog dump")
        }
        let number = UInt32(packet[1]) | UInt32(packet[2]) << 8
        var rest = UnsafeRawBufferPointer(rebasing: packet[3...])
        var state = ""
        if rest.first == UInt8(ascii: "#"), rest.count >= 6 {
            state = String(decoding: rest[1..<6], as: UTF8.self)
            rest = UnsafeRawBufferPointer(rebasing: rest[6...])
        }
        return MySQLError(
            .server, number: number, sqlState: state, message: String(decoding: rest, as: UTF8.self),
            operation: "binlog dump")
    }
}

extension Array where Element == UInt8 {
    mutating func appendLittleEndian<T: FixedWidthInteger>(_ value: T, width: Int) {
        let wide = UInt64(truncatingIfNeeded: value)
        for index in 0..<width { append(UInt8(truncatingIfNeeded: wide >> UInt64(8 * index))) }
    }
}

extension BinlogStream.Start: CustomStringConvertible {
    /// For log lines: `mariadb-bin.000003:1234`, `gtid 0-1-42`, `gtid set (N bytes)`.
    public var description: String {
        switch self {
        case .filePosition(let file, let position): "\(file):\(position)"
        case .mariadbGTID(let position): "gtid \(position)"
        case .mysqlGTID(let encoded): "gtid set (\(encoded.count) bytes encoded)"
        }
    }
}
