/// FORMAT_DESCRIPTION_EVENT (and the older START_EVENT_V3): how to read the events that follow.
///
/// Layout (MySQL internals, "FORMAT_DESCRIPTION_EVENT"): binlog_version u16,
/// server_version char[50], create_timestamp u32, header_length u8, then one post-header
/// length per event type, then (servers from MySQL 5.6.1 / MariaDB 5.3 on) the checksum
/// algorithm byte and the event's own 4-byte checksum.
public struct FormatDescription: Sendable, Equatable {
    public var binlogVersion: UInt16
    public var serverVersion: String
    public var createTimestamp: UInt32
    public var headerLength: Int
    /// Post-header length by event type code - 1 (index 0 is type 1).
    public var postHeaderLengths: [UInt8]
    public var checksumAlgorithm: ChecksumAlgorithm

    /// Whether the server is MariaDB (its version string says so).
    public var isMariaDB: Bool { serverVersion.lowercased().contains("mariadb") }

    /// The post-header length the server declared for `type`, or `fallback` if it declared none.

    public func postHeaderLength(for type: EventType, default fallback: Int) -> Int {
        let index = Int(type.rawValue) - 1
        guard index >= 0, index < postHeaderLengths.count else { return fallback }
        return Int(postHeaderLengths[index])
    }

    /// A description for binlog v4 servers that have not sent one yet (what MySQL assumes
    /// before the first FORMAT_DESCRIPTION): CRC32 unknown, standard header.
    public static let assumedV4 = FormatDescription(
        binlogVersion: 4, serverVersion: "", createTimestamp: 0, headerLength: 19, postHeaderLengths: [],
        checksumAlgorithm: .off)

    public init(
        binlogVersion: UInt16, serverVersion: String, createTimestamp: UInt32, headerLength: Int,
        postHeaderLengths: [UInt8], checksumAlgorithm: ChecksumAlgorithm
    ) {
        self.binlogVersion = binlogVersion
        self.serverVersion = serverVersion
        self.createTimestamp = createTimestamp
        self.headerLength = headerLength
        self.postHeaderLengths = postHeaderLengths
        self.checksumAlgorithm = checksumAlgorithm
    }

    /// Decodes the body of a FORMAT_DESCRIPTION (or START_EVENT_V3 when `isStartV3`).
    /// `event` is the whole event, header and checksum included.
    init(event: UnsafeRawBufferPointer, isStartV3: Bool, baseOffset: Int) throws(BinlogError) {
        var reader = ByteReader(event, position: EventHeader.length, baseOffset: baseOffset)
        binlogVersion = try reader.readUInt16()
        serverVersion = String(cStringBytes: try reader.readBytes(50, "server version"))
        createTimestamp = try reader.readUInt32()
        if isStartV3 {
            headerLength = binlogVersion == 1 ? 13 : 19
            postHeaderLengths = []
            checksumAlgorithm = .off
            return
        }
        headerLength = Int(try reader.readUInt8())
        guard headerLength >= EventHeader.length else {
            throw BinlogError(.corrupt, "common header length \(headerLength) is below 19", offset: baseOffset + 56)
        }
        var rest = reader.readRest()
        if FormatDescription.writesChecksumAlgorithm(serverVersion: serverVersion), rest.count >= 5 {
            let algorithm = ChecksumAlgorithm(rawValue: rest[rest.count - 5])
            checksumAlgorithm = algorithm
            rest = UnsafeRawBufferPointer(rebasing: rest[0..<(rest.count - 5)])
        } else {
            checksumAlgorithm = .off
        }
        postHeaderLengths = Array(rest.bindMemory(to: UInt8.self))
    }

    /// Servers that end the FORMAT_DESCRIPTION with a checksum-algorithm byte:
    /// MySQL 5.6.1 and later, MariaDB 5.3 and later.
    static func writesChecksumAlgorithm(serverVersion: String) -> Bool {
        let version = ServerVersion(serverVersion)
        if serverVersion.lowercased().contains("mariadb") { return version >= ServerVersion(5, 3, 0) }
        return version >= ServerVersion(5, 6, 1)
    }
}

/// The numeric part of a server version string ("8.0.31-log" → 8.0.31).
public struct ServerVersion: Comparable, Sendable, CustomStringConvertible {
    public var major: Int
    public var minor: Int
    public var patch: Int

    public init(_ major: Int, _ minor: Int, _ patch: Int) {
        self.major = major
        self.minor = minor
        self.patch = patch
    }

    public init(_ string: String) {
        var numbers: [Int] = []
        var current = 0
        var inNumber = false
        for byte in string.utf8 {
            if byte >= 0x30 && byte <= 0x39 {
                current = current &* 10 &+ Int(byte - 0x30)
                inNumber = true
            } else if byte == UInt8(ascii: ".") && inNumber {
                numbers.append(current)
                current = 0
                inNumber = false
            } else {
                break
            }
            if numbers.count == 3 { break }
        }
        if inNumber && numbers.count < 3 { numbers.append(current) }
        while numbers.count < 3 { numbers.append(0) }
        self.init(numbers[0], numbers[1], numbers[2])
    }

    public static func < (lhs: ServerVersion, rhs: ServerVersion) -> Bool {
        (lhs.major, lhs.minor, lhs.patch) < (rhs.major, rhs.minor, rhs.patch)
    }

    public var description: String { "\(major).\(minor).\(patch)" }
}

extension String {
    /// Decodes bytes up to the first NUL as UTF-8 (invalid sequences repaired).
    init(cStringBytes bytes: UnsafeRawBufferPointer) {
        let end = bytes.firstIndex(of: 0) ?? bytes.count
        self.init(decoding: UnsafeRawBufferPointer(rebasing: bytes[0..<end]), as: UTF8.self)
    }
}
