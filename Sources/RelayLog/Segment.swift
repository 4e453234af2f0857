import BinlogFormat

/// Segment files: names, and the events the log writes itself.
///
/// A segment is a binlog file (`mysqlbinlog` reads it as it is):
///
/// ```
/// fe 62 69 6e                      magic
/// FORMAT_DESCRIPTION               the source's: as received in the first segment, a copy
///                                  marked relay-made in the next ones
/// PREVIOUS_GTIDS | GTID_LIST       relay-made: the GTID state at the start of the segment
/// ROTATE (source file, position)   relay-made: where in the source this segment starts
/// events as received …             transactions, whole
/// ROTATE (relay-000043.bin, 4)     relay-made: closes the segment, names the next one
/// ```
///
/// Relay-made events carry `LOG_EVENT_RELAY_LOG_F` (0x40), as the events a MySQL replica writes
/// into its own relay log do; the ROTATE that states a source position also carries
/// `LOG_EVENT_ARTIFICIAL_F` (0x20). Their `log_pos` is their end offset in the segment, their
/// server id is the one in the FORMAT_DESCRIPTION's header, their timestamp that of the last source
/// event (never 0: `mysqlbinlog` stops at a ROTATE with timestamp 0 that names another file).
/// Everything in them follows from the events before them, so a log rebuilt after a crash is
/// byte for byte the log an uninterrupted run writes.
public enum Segment {
    /// "relay-000042.bin" (at least six digits).
    public static func fileName(_ number: Int) -> String {
        let digits = String(number)
        return "relay-" + String(repeating: "0", count: max(0, 6 - digits.count)) + digits + ".bin"
    }

    /// The number in a segment file name, or nil when the name is not one.
    public static func number(fromFileName name: String) -> Int? {
        guard name.hasPrefix("relay-"), name.hasSuffix(".bin") else { return nil }
        let digits = name.dropFirst(6).dropLast(4)
        guard digits.count >= 6, digits.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        return Int(digits)
    }

    static let magic: [UInt8] = BinlogFileReader.magic
    static let relayLogFlag: UInt16 = 0x40
    static let artificialFlag: UInt16 = EventHeader.artificialFlag

    /// What a relay-made event is, from its header and payload.
    enum RelayMade: Equatable {
        /// The GTID state at the start of a segment (PREVIOUS_GTIDS or GTID_LIST).
        case gtidState
        /// A ROTATE that states the source position (at the start of a segment, or where the
        /// stream jumped).
        case sourceRotate
        /// The ROTATE that closes a segment and names the next.
        case closingRotate
        /// The FORMAT_DESCRIPTION in force, repeated at the start of a segment after the first.
        case formatCopy
    }

    static func relayMade(_ header: EventHeader) -> RelayMade? {
        guard header.flags & relayLogFlag != 0 else { return nil }
        switch header.type {
        case .rotate: return header.flags & artificialFlag != 0 ? .sourceRotate : .closingRotate
        case .previousGTIDs, .mariadbGTIDList: return .gtidState
        case .formatDescription: return .formatCopy
        default: return nil
        }
    }

    /// Builds an event: the 19-byte header, `body`, and a CRC32 when `checksum` says so.
    static func event(
        type: EventType, body: [UInt8], timestamp: UInt32, serverID: UInt32, endOffset: Int64, flags: UInt16,
        checksum: ChecksumAlgorithm
    ) -> [UInt8] {
        let size = EventHeader.length + body.count + checksum.trailerLength
        var bytes: [UInt8] = []
        bytes.reserveCapacity(size)
        bytes.appendLittleEndian(UInt64(max(timestamp, 1)), width: 4)
        bytes.append(type.rawValue)
        bytes.appendLittleEndian(UInt64(serverID), width: 4)
        bytes.appendLittleEndian(UInt64(size), width: 4)
        bytes.appendLittleEndian(UInt64(truncatingIfNeeded: endOffset), width: 4)
        bytes.appendLittleEndian(UInt64(flags), width: 2)
        bytes += body
        if checksum == .crc32 {
            let crc = bytes.withUnsafeBytes { crc32($0) }
            bytes.appendLittleEndian(UInt64(crc), width: 4)
        }
        return bytes
    }

    /// The FORMAT_DESCRIPTION in force, marked as the relay's copy: `LOG_EVENT_RELAY_LOG_F` set and
    /// the CRC32 recomputed (as the server computes it, with `LOG_EVENT_BINLOG_IN_USE_F` clear).
    static func formatCopy(_ original: [UInt8], checksum: ChecksumAlgorithm, marked: Bool = true) -> [UInt8] {
        var bytes = original
        guard bytes.count >= EventHeader.length else { return bytes }
        if marked { bytes[17] |= UInt8(relayLogFlag) } else { bytes[17] &= ~UInt8(relayLogFlag) }
        if checksum == .crc32 && bytes.count >= EventHeader.length + 4 {
            let crc = bytes.withUnsafeBytes { raw -> UInt32 in
                var crc = crc32(UnsafeRawBufferPointer(rebasing: raw[0..<17]))
                withUnsafeBytes(of: raw[17] & ~UInt8(EventHeader.binlogInUseFlag)) { crc = crc32($0, seed: crc) }
                return crc32(UnsafeRawBufferPointer(rebasing: raw[18..<(raw.count - 4)]), seed: crc)
            }
            for index in 0..<4 { bytes[bytes.count - 4 + index] = UInt8(truncatingIfNeeded: crc >> (8 * UInt32(index))) }
        }
        return bytes
    }

    /// A ROTATE body: position (u64), then the file name.
    static func rotateBody(fileName: String, position: UInt64) -> [UInt8] {
        var body: [UInt8] = []
        body.appendLittleEndian(position, width: 8)
        body += Array(fileName.utf8)
        return body
    }

    /// Whether the server that wrote `format` knows the event the log uses for the GTID state
    /// (MySQL 5.6+ PREVIOUS_GTIDS, MariaDB 10.0+ GTID_LIST).
    static func gtidStateEventType(for format: FormatDescription) -> EventType? {
        if format.isMariaDB {
            return format.postHeaderLengths.count >= Int(EventType.mariadbGTIDList.rawValue)
                ? .mariadbGTIDList : nil
        }
        return format.postHeaderLengths.count >= Int(EventType.previousGTIDs.rawValue) ? .previousGTIDs : nil
    }
}

/// Facts about one segment, read from its first events.
public struct SegmentInfo: Sendable, Equatable {
    public var number: Int
    public var fileName: String { Segment.fileName(number) }
    /// Where in the source the segment starts.
    public var source: SourcePosition
    /// The GTID state at the start of the segment: a GTID not in it is in this segment or a later one.
    public var gtidState: GTIDState
    /// Size of the file in bytes.
    public var size: Int64
    /// Last modification of the file, seconds since the epoch (retention by age).
    public var modified: Int64
}
