import CZlib

/// The checksum algorithm a FORMAT_DESCRIPTION announces (`enum_binlog_checksum_alg`).
public struct ChecksumAlgorithm: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    public static let off = ChecksumAlgorithm(rawValue: 0)
    public static let crc32 = ChecksumAlgorithm(rawValue: 1)
    public static let undefined = ChecksumAlgorithm(rawValue: 255)

    /// Bytes of checksum at the end of each event.
    public var trailerLength: Int { self == .crc32 ? 4 : 0 }

    public var description: String {
        switch self {
        case .off: "NONE"
        case .crc32: "CRC32"
        case .undefined: "UNDEFINED"
        default: "ALG_\(rawValue)"
        }
    }
}

/// CRC32 (ISO-HDLC, as zlib computes it) over a byte range.
///
/// On x86-64 CPUs with PCLMULQDQ, whole 16-byte blocks are folded with carry-less
/// multiplication (several times faster than the table CRC of Debian's zlib 1.2.13, and with
/// less set-up per call, which matters for events of a few dozen bytes); elsewhere zlib's.
public func crc32(_ bytes: UnsafeRawBufferPointer, seed: UInt32 = 0) -> UInt32 {
    guard let base = bytes.baseAddress, !bytes.isEmpty else { return seed }
    let start = base.assumingMemoryBound(to: UInt8.self)
    if hasCarrylessMultiply { return binlog_crc32_pclmul(seed, start, bytes.count) }
    return zlibCRC32(start, bytes.count, seed: seed)
}

/// Whether ``crc32(_:seed:)`` may use the carry-less multiply path.
let hasCarrylessMultiply = binlog_crc32_pclmul_available() != 0

/// zlib's crc32; it takes a uInt length, so longer ranges go in chunks.
func zlibCRC32(_ start: UnsafePointer<UInt8>, _ count: Int, seed: UInt32) -> UInt32 {
    var crc = UInt(seed)
    var pointer = start
    var left = count
    while left > 0 {
        let chunk = Swift.min(left, Int(UInt32.max >> 1))
        crc = CZlib.crc32(crc, pointer, UInt32(chunk))
        pointer += chunk
        left -= chunk
    }
    return UInt32(truncatingIfNeeded: crc)
}

extension UnsafeRawBufferPointer {
    /// Verifies the CRC32 in the last 4 bytes of an event.
    ///
    /// The server computes a FORMAT_DESCRIPTION's checksum with `LOG_EVENT_BINLOG_IN_USE_F`
    /// cleared and sets the flag in place while the file is open, so the flag is masked out
    /// for that event before the CRC is computed.
    @inlinable
    func eventChecksumMatches(isFormatDescription: Bool) -> Bool {
        guard count >= EventHeader.length + 4 else { return false }
        let stored = UInt32(loadLittleEndian(at: count - 4, width: 4))
        let flagsByte = self[17]
        if isFormatDescription && flagsByte & UInt8(EventHeader.binlogInUseFlag) != 0 {
            var crc = crc32(UnsafeRawBufferPointer(rebasing: self[0..<17]))
            withUnsafeBytes(of: flagsByte & ~UInt8(EventHeader.binlogInUseFlag)) { crc = crc32($0, seed: crc) }
            crc = crc32(UnsafeRawBufferPointer(rebasing: self[18..<(count - 4)]), seed: crc)
            return crc == stored
        }
        return crc32(UnsafeRawBufferPointer(rebasing: self[0..<(count - 4)])) == stored
    }
}
