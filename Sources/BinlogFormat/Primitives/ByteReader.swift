/// A bounds-checked cursor over borrowed bytes: the one place where binlog decoding
/// touches raw memory.
///
/// The reader does not own its bytes. It is only valid while the buffer it views is
/// alive, which is why decoded events are handed out inside `withUnsafe…`-style closures
/// and must not escape them. Every read checks the remaining length first and throws
/// ``BinlogError/Code-swift.struct/truncated`` instead of reading past the end.
public struct ByteReader {
    /// The viewed bytes.
    public let bytes: UnsafeRawBufferPointer
    /// The read position, relative to `bytes`.
    public var position: Int
    /// Where `bytes` starts in the file or stream, for error messages.
    public let baseOffset: Int

    @inlinable
    public init(_ bytes: UnsafeRawBufferPointer, position: Int = 0, baseOffset: Int = 0) {
        self.bytes = bytes
        self.position = position
        self.baseOffset = baseOffset
    }

    @inlinable public var remaining: Int { bytes.count - position }
    @inlinable public var isAtEnd: Bool { position >= bytes.count }

    @inlinable
    func truncated(_ need: Int, _ what: StaticString) -> BinlogError {
        BinlogError(
            .truncated,
            "need \(need) bytes for \(what), \(Swift.max(remaining, 0)) left",
            offset: baseOffset + position
        )
    }

    @inlinable
    public mutating func require(_ count: Int, _ what: StaticString) throws(BinlogError) {
        // Negative counts come from corrupt lengths; treat them as not enough bytes.
        guard count >= 0, count <= remaining else { throw truncated(count, what) }
    }

    @inlinable
    public mutating func skip(_ count: Int, _ what: StaticString = "skipped field") throws(BinlogError) {
        try require(count, what)
        position += count
    }

    @inlinable
    public mutating func readUInt8() throws(BinlogError) -> UInt8 {
        try require(1, "1-byte integer")
        defer { position += 1 }
        return bytes[position]
    }

    /// A little-endian unsigned integer of `width` bytes (1...8).
    @inlinable
    public mutating func readLittleEndian(_ width: Int) throws(BinlogError) -> UInt64 {
        try require(width, "little-endian integer")
        defer { position += width }
        return bytes.loadLittleEndian(at: position, width: width)
    }

    /// A big-endian unsigned integer of `width` bytes (1...8).
    @inlinable
    public mutating func readBigEndian(_ width: Int) throws(BinlogError) -> UInt64 {
        try require(width, "big-endian integer")
        defer { position += width }
        return bytes.loadBigEndian(at: position, width: width)
    }

    @inlinable public mutating func readUInt16() throws(BinlogError) -> UInt16 { UInt16(try readLittleEndian(2)) }
    @inlinable public mutating func readUInt32() throws(BinlogError) -> UInt32 { UInt32(try readLittleEndian(4)) }
    @inlinable public mutating func readUInt64() throws(BinlogError) -> UInt64 { try readLittleEndian(8) }

    /// MySQL's length-encoded ("packed") integer: 1, 3, 4 or 9 bytes.
    @inlinable
    public mutating func readLengthEncoded() throws(BinlogError) -> UInt64 {
        let first = try readUInt8()
        switch first {
        case 0..<0xFB: return UInt64(first)
        case 0xFC: return try readLittleEndian(2)
        case 0xFD: return try readLittleEndian(3)
        case 0xFE: return try readLittleEndian(8)
        default:
            throw BinlogError(
                .corrupt, "invalid length-encoded integer prefix 0x\(String(first, radix: 16))",
                offset: baseOffset + position - 1)
        }
    }

    /// A length-encoded integer that must fit in `Int` and in the remaining bytes when used as a length.
    @inlinable
    public mutating func readLengthEncodedCount() throws(BinlogError) -> Int {
        let start = position
        let value = try readLengthEncoded()
        guard value <= UInt64(Int.max / 2) else {
            throw BinlogError(.corrupt, "length \(value) is impossibly large", offset: baseOffset + start)
        }
        return Int(value)
    }

    /// The next `count` bytes as a view (no copy).
    @inlinable
    public mutating func readBytes(_ count: Int, _ what: StaticString = "byte string") throws(BinlogError)
        -> UnsafeRawBufferPointer
    {
        try require(count, what)
        defer { position += count }
        return UnsafeRawBufferPointer(rebasing: bytes[position..<position + count])
    }

    /// All bytes up to the end.
    @inlinable
    public mutating func readRest() -> UnsafeRawBufferPointer {
        defer { position = bytes.count }
        return UnsafeRawBufferPointer(rebasing: bytes[position..<bytes.count])
    }

    /// A string prefixed by its length in one byte.
    @inlinable
    public mutating func readLengthPrefixed8() throws(BinlogError) -> UnsafeRawBufferPointer {
        let count = Int(try readUInt8())
        return try readBytes(count, "length-prefixed string")
    }

    /// A string prefixed by a length-encoded integer.
    @inlinable
    public mutating func readLengthEncodedBytes() throws(BinlogError) -> UnsafeRawBufferPointer {
        let count = try readLengthEncodedCount()
        return try readBytes(count, "length-encoded string")
    }
}

extension UnsafeRawBufferPointer {
    /// Loads `width` (1...8) bytes at `offset` as a little-endian integer. The caller checks bounds.
    @inlinable
    func loadLittleEndian(at offset: Int, width: Int) -> UInt64 {
        if width == 8 { return UInt64(littleEndian: loadUnaligned(fromByteOffset: offset, as: UInt64.self)) }
        if width == 4 { return UInt64(UInt32(littleEndian: loadUnaligned(fromByteOffset: offset, as: UInt32.self))) }
        if width == 2 { return UInt64(UInt16(littleEndian: loadUnaligned(fromByteOffset: offset, as: UInt16.self))) }
        var value: UInt64 = 0
        var index = width - 1
        while index >= 0 {
            value = value << 8 | UInt64(self[offset + index])
            index -= 1
        }
        return value
    }

    /// Loads `width` (1...8) bytes at `offset` as a big-endian integer. The caller checks bounds.
    @inlinable
    func loadBigEndian(at offset: Int, width: Int) -> UInt64 {
        if width == 4 { return UInt64(UInt32(bigEndian: loadUnaligned(fromByteOffset: offset, as: UInt32.self))) }
        var value: UInt64 = 0
        for index in 0..<width {
            value = value << 8 | UInt64(self[offset + index])
        }
        return value
    }
}
