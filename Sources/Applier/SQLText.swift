import BinlogFormat

/// A statement (or a batch of them) being written as bytes: the query goes to the server exactly
/// as built here, so binary data never passes through a `String`.
struct SQLText {
    var bytes: [UInt8] = []

    var count: Int { bytes.count }
    var isEmpty: Bool { bytes.isEmpty }

    mutating func removeAll() { bytes.removeAll(keepingCapacity: true) }

    mutating func append(_ text: StaticString) {
        text.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }

    mutating func append(_ text: String) { bytes.append(contentsOf: text.utf8) }

    mutating func append(_ other: [UInt8]) { bytes.append(contentsOf: other) }

    mutating func append(byte: UInt8) { bytes.append(byte) }

    mutating func append(_ value: some BinaryInteger) { bytes.appendPadded(Int(value), 0) }

    mutating func append(unsigned value: UInt64) {
        if value <= UInt64(Int.max) {
            bytes.appendPadded(Int(value), 0)
        } else {
            bytes.append(contentsOf: String(value).utf8)
        }
    }

    /// `name` as a quoted identifier: backquotes, with a backquote inside doubled.
    mutating func appendIdentifier(_ name: String) { bytes.append(contentsOf: SQLText.identifier(name)) }

    static func identifier(_ name: String) -> [UInt8] {
        var out: [UInt8] = [UInt8(ascii: "`")]
        for byte in name.utf8 {
            out.append(byte)
            if byte == UInt8(ascii: "`") { out.append(byte) }
        }
        out.append(UInt8(ascii: "`"))
        return out
    }

    /// A string literal in single quotes for text the relay made (names, GTID sets): backslash and
    /// quote escaped. Data from the binlog never goes this way (it is written in hex).
    mutating func appendQuoted(_ text: String) {
        bytes.append(UInt8(ascii: "'"))
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "'"): bytes.append(contentsOf: [UInt8(ascii: "'"), UInt8(ascii: "'")])
            case UInt8(ascii: "\\"): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
            case 0: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "0")])
            default: bytes.append(byte)
            }
        }
        bytes.append(UInt8(ascii: "'"))
    }

    private static let hexDigits: [UInt8] = Array("0123456789ABCDEF".utf8)

    /// `X'…'`: a binary string with exactly these bytes, whatever the connection's character set.
    mutating func appendHex(_ data: UnsafeRawBufferPointer) {
        bytes.append(UInt8(ascii: "X"))
        bytes.append(UInt8(ascii: "'"))
        let start = bytes.count
        bytes.append(contentsOf: repeatElement(0, count: data.count * 2))
        bytes.withUnsafeMutableBufferPointer { out in
            Self.hexDigits.withUnsafeBufferPointer { digits in
                var index = start
                for byte in data {
                    out[index] = digits[Int(byte >> 4)]
                    out[index + 1] = digits[Int(byte & 0x0F)]
                    index += 2
                }
            }
        }
        bytes.append(UInt8(ascii: "'"))
    }

    /// `_binary'…'` (or another introducer): a string with exactly these bytes, sent as they are
    /// but for a backslash before `'` and `\` (the row session never sets NO_BACKSLASH_ESCAPES).
    /// Half the size of `X'…'` for large BLOBs, and as exact: the server's lexer reads a quoted
    /// literal byte by byte outside valid multi-byte sequences, and in UTF-8 no multi-byte sequence
    /// contains a quote or a backslash. NUL bytes go as they are: a query is as long as its packet
    /// says, and the server needs only the backslash and the quote escaped (MySQL C API guide,
    /// mysql_real_escape_string_quote()); fewer bytes go, and the target's lexer copies a literal
    /// without escapes whole instead of unescaping it byte by byte. `padTo`: NUL bytes are added up
    /// to this length.
    mutating func appendEscaped(_ data: UnsafeRawBufferPointer, introducer: StaticString = "_binary", padTo: Int = 0) {
        append(introducer)
        bytes.append(UInt8(ascii: "'"))
        bytes.reserveCapacity(bytes.count + data.count + data.count / 64 + 2)
        var runStart = 0
        var index = 0
        while index < data.count {
            // Eight bytes at a time while none of them needs escaping (BLOBs are mostly such runs).
            if index + 8 <= data.count && !Self.mayNeedEscape(data.loadUnaligned(fromByteOffset: index, as: UInt64.self)) {
                index += 8
                continue
            }
            let byte = data[index]
            if byte == 0x27 || byte == 0x5C {
                if index > runStart { bytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: data[runStart..<index])) }
                bytes.append(0x5C)
                bytes.append(byte)
                runStart = index + 1
            }
            index += 1
        }
        if data.count > runStart { bytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: data[runStart..<data.count])) }
        if padTo > data.count { bytes.append(contentsOf: repeatElement(0, count: padTo - data.count)) }
        bytes.append(UInt8(ascii: "'"))
    }

    /// Whether any byte of `word` may be `'` or `\`: the classic test for a zero byte
    /// (`(v - 0x01…01) & ~v & 0x80…80`, never false when one is zero) on the word XORed with each
    /// of the two bytes repeated. A rare false positive only sends those eight bytes the slow way.
    @inline(__always)
    static func mayNeedEscape(_ word: UInt64) -> Bool {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let highs: UInt64 = 0x8080_8080_8080_8080
        func hasZeroByte(_ v: UInt64) -> Bool { (v &- ones) & ~v & highs != 0 }
        return hasZeroByte(word ^ (ones &* 0x27)) || hasZeroByte(word ^ (ones &* 0x5C))
    }

    /// Text written by one of the value types' `write(into:)`, quoted.
    mutating func appendQuoted(_ write: (inout [UInt8]) -> Void) {
        bytes.append(UInt8(ascii: "'"))
        write(&bytes)
        bytes.append(UInt8(ascii: "'"))
    }
}
