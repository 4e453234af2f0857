/// A MySQL server UUID (the SID of a GTID).
public struct UUID16: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var high: UInt64
    public var low: UInt64

    public init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    init(bytes: UnsafeRawBufferPointer) {
        high = bytes.loadBigEndian(at: 0, width: 8)
        low = bytes.loadBigEndian(at: 8, width: 8)
    }

    /// Parses "3e11fa47-71ca-11e1-9e33-c80aa9429562".
    public init?(_ text: some StringProtocol) {
        var nibbles: [UInt8] = []
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "-"): continue
            case UInt8(ascii: "0")...UInt8(ascii: "9"): nibbles.append(byte - 48)
            case UInt8(ascii: "a")...UInt8(ascii: "f"): nibbles.append(byte - 87)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): nibbles.append(byte - 55)
            default: return nil
            }
        }
        guard nibbles.count == 32 else { return nil }
        high = nibbles[0..<16].reduce(0) { $0 << 4 | UInt64($1) }
        low = nibbles[16..<32].reduce(0) { $0 << 4 | UInt64($1) }
    }

    public static func < (lhs: UUID16, rhs: UUID16) -> Bool { (lhs.high, lhs.low) < (rhs.high, rhs.low) }

    public var description: String {
        func hex(_ value: UInt64, _ digits: Int) -> String {
            let text = String(value, radix: 16)
            return String(repeating: "0", count: digits - text.count) + text
        }
        return hex(high >> 32, 8) + "-" + hex(high >> 16 & 0xFFFF, 4) + "-" + hex(high & 0xFFFF, 4) + "-"
            + hex(low >> 48, 4) + "-" + hex(low & 0xFFFF_FFFF_FFFF, 12)
    }
}

/// MySQL GTID_LOG_EVENT / ANONYMOUS_GTID_LOG_EVENT / GTID_TAGGED_LOG_EVENT.
///
/// Layout (MySQL `libbinlogevents` `Gtid_event`): flags u8, SID (16), GNO i64, then from 5.7:
/// logical-clock type (2), last_committed, sequence_number; from 8.0.1: immediate commit
/// timestamp (7 bytes, µs; top bit = an original timestamp follows), transaction length
/// (packed), immediate server version (u32; top bit = an original version follows).
/// The tagged form of 8.4+ carries the same fields in MySQL's serialization format.
public struct GTIDEvent: Sendable, Equatable {
    public var sid: UUID16
    public var gno: Int64
    public var tag: String?
    // The optional fields are stored without Optional's tag byte (which pads each to 16 bytes),
    // with one bit each in `storedFields`, so that a decoded event stays small (see BinlogEvent).
    private var storedLastCommitted: Int64 = 0
    private var storedSequenceNumber: Int64 = 0
    private var storedImmediateCommitTimestamp: UInt64 = 0
    private var storedOriginalCommitTimestamp: UInt64 = 0
    private var storedTransactionLength: UInt64 = 0
    private var storedImmediateServerVersion: UInt32 = 0
    private var storedOriginalServerVersion: UInt32 = 0
    public var isAnonymous: Bool
    public var flags: UInt8
    private var storedFields: UInt8 = 0

    public init(isAnonymous: Bool, flags: UInt8, sid: UUID16, gno: Int64, tag: String? = nil) {
        self.isAnonymous = isAnonymous
        self.flags = flags
        self.sid = sid
        self.gno = gno
        self.tag = tag
    }

    private func stored<T: FixedWidthInteger>(_ bit: UInt8, _ value: T) -> T? {
        storedFields & bit != 0 ? value : nil
    }

    private static func store<T: FixedWidthInteger>(_ bit: UInt8, _ value: T?, _ field: inout T, _ fields: inout UInt8) {
        if let value {
            field = value
            fields |= bit
        } else {
            field = 0
            fields &= ~bit
        }
    }

    public var lastCommitted: Int64? {
        get { stored(1, storedLastCommitted) }
        set { Self.store(1, newValue, &storedLastCommitted, &storedFields) }
    }

    public var sequenceNumber: Int64? {
        get { stored(2, storedSequenceNumber) }
        set { Self.store(2, newValue, &storedSequenceNumber, &storedFields) }
    }

    /// Commit time on this server, microseconds since the epoch.
    public var immediateCommitTimestamp: UInt64? {
        get { stored(4, storedImmediateCommitTimestamp) }
        set { Self.store(4, newValue, &storedImmediateCommitTimestamp, &storedFields) }
    }

    /// Commit time on the original source, microseconds since the epoch.
    public var originalCommitTimestamp: UInt64? {
        get { stored(8, storedOriginalCommitTimestamp) }
        set { Self.store(8, newValue, &storedOriginalCommitTimestamp, &storedFields) }
    }

    public var transactionLength: UInt64? {
        get { stored(16, storedTransactionLength) }
        set { Self.store(16, newValue, &storedTransactionLength, &storedFields) }
    }

    public var immediateServerVersion: UInt32? {
        get { stored(32, storedImmediateServerVersion) }
        set { Self.store(32, newValue, &storedImmediateServerVersion, &storedFields) }
    }

    public var originalServerVersion: UInt32? {
        get { stored(64, storedOriginalServerVersion) }
        set { Self.store(64, newValue, &storedOriginalServerVersion, &storedFields) }
    }

    /// "uuid:gno" or "uuid:tag:gno"; "ANONYMOUS" for anonymous transactions.
    public var description: String {
        if isAnonymous { return "ANONYMOUS" }
        if let tag { return "\(sid):\(tag):\(gno)" }
        return "\(sid):\(gno)"
    }
}

/// A MySQL GTID set (PREVIOUS_GTIDS, `gtid_executed`): per source (UUID and tag), intervals of GNOs.
public struct GTIDSet: Sendable, Equatable, CustomStringConvertible {
    public struct Interval: Sendable, Equatable {
        public var start: Int64
        /// Exclusive end, as the binlog stores it.
        public var end: Int64
    }

    public struct Entry: Sendable, Equatable {
        public var sid: UUID16
        public var tag: String?
        public var intervals: [Interval]
    }

    public var entries: [Entry]

    public init(entries: [Entry] = []) { self.entries = entries }

    /// Decodes the binary form (MySQL `Gtid_set::encode`): entry count u64 (the top byte is a
    /// format marker, 1 = tagged, from 8.4), then per entry: SID, [tag], interval count u64,
    /// intervals as start/end u64 pairs.
    init(binary bytes: UnsafeRawBufferPointer, baseOffset: Int) throws(BinlogError) {
        var reader = ByteReader(bytes, baseOffset: baseOffset)
        // Tagged sets (8.4+) mark the first and last byte of the count word with format 1 and
        // keep the count in the six bytes between.
        let word = try reader.readUInt64()
        let tagged = word >> 56 == 1 && word & 0xFF == 1
        let count = tagged ? (word >> 8) & 0xFFFF_FFFF_FFFF : word
        guard count <= UInt64(reader.remaining / 24) else {
            throw BinlogError(.corrupt, "GTID set claims \(count) sources in \(reader.remaining) bytes")
        }
        var entries: [Entry] = []
        for _ in 0..<count {
            let sid = UUID16(bytes: try reader.readBytes(16, "GTID SID"))
            var tag: String?
            if tagged {
                let length = Int(try reader.readSerializedInteger())
                if length > 0 { tag = String(decoding: try reader.readBytes(length, "GTID tag"), as: UTF8.self) }
            }
            let intervalCount = try reader.readUInt64()
            guard intervalCount <= UInt64(reader.remaining / 16) else {
                throw BinlogError(.corrupt, "GTID set claims \(intervalCount) intervals in \(reader.remaining) bytes")
            }
            var intervals: [Interval] = []
            for _ in 0..<intervalCount {
                let start = Int64(bitPattern: try reader.readUInt64())
                let end = Int64(bitPattern: try reader.readUInt64())
                intervals.append(Interval(start: start, end: end))
            }
            entries.append(Entry(sid: sid, tag: tag, intervals: intervals))
        }
        self.entries = entries
    }

    /// "uuid:1-5:7,uuid2[:tag]:1-3" (inclusive ranges, as MySQL prints them).
    public var description: String {
        entries.map { entry in
            var text = entry.sid.description
            if let tag = entry.tag { text += ":" + tag }
            for interval in entry.intervals {
                text += interval.end - 1 == interval.start ? ":\(interval.start)" : ":\(interval.start)-\(interval.end - 1)"
            }
            return text
        }.joined(separator: ",")
    }
}

/// A MariaDB GTID: domain-server-sequence.
public struct MariaDBGTID: Hashable, Sendable, CustomStringConvertible {
    public var domainID: UInt32
    public var serverID: UInt32
    public var sequence: UInt64

    public init(domainID: UInt32, serverID: UInt32, sequence: UInt64) {
        self.domainID = domainID
        self.serverID = serverID
        self.sequence = sequence
    }

    /// Parses "0-1-42".
    public init?(_ text: some StringProtocol) {
        let parts = text.split(separator: "-")
        guard parts.count == 3, let domain = UInt32(parts[0]), let server = UInt32(parts[1]),
            let sequence = UInt64(parts[2])
        else { return nil }
        self.init(domainID: domain, serverID: server, sequence: sequence)
    }

    public var description: String { "\(domainID)-\(serverID)-\(sequence)" }
}
