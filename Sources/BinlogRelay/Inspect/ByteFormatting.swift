import BinlogFormat

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Small formatting helpers that append bytes, shared by the text and JSON-lines formats. Each
/// piece is formatted on the stack and appended in one copy: no String is built per value.
extension Array where Element == UInt8 {
    /// A literal (string literals pick this overload; dynamic text goes through `appendString`).
    mutating func append(_ text: StaticString) {
        append(contentsOf: UnsafeRawBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    }

    mutating func appendString(_ text: String) {
        var text = text
        text.withUTF8 { append(contentsOf: $0) }
    }

    mutating func appendDecimal(_ value: UInt64) {
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)  // 20 digits at most
        Swift.withUnsafeMutableBytes(of: &digits) { buffer in
            var rest = value
            var start = buffer.count
            repeat {
                start -= 1
                buffer[start] = UInt8(truncatingIfNeeded: rest % 10) &+ 0x30
                rest /= 10
            } while rest > 0
            append(contentsOf: UnsafeRawBufferPointer(rebasing: buffer[start...]))
        }
    }

    mutating func appendDecimal(_ value: Int64) {
        if value < 0 { append(UInt8(ascii: "-")) }
        appendDecimal(value.magnitude)
    }

    mutating func appendDecimal(_ value: Int) { appendDecimal(Int64(value)) }
    mutating func appendDecimal(_ value: Int32) { appendDecimal(Int64(value)) }
    mutating func appendDecimal(_ value: UInt32) { appendDecimal(UInt64(value)) }
    mutating func appendDecimal(_ value: UInt16) { appendDecimal(UInt64(value)) }
    mutating func appendDecimal(_ value: UInt8) { appendDecimal(UInt64(value)) }

    mutating func appendBool(_ value: Bool) {
        if value { append("true") } else { append("false") }
    }

    mutating func appendPadded(_ value: Int, width: Int) {
        var digits = 1
        var rest = value / 10
        while rest > 0 {
            digits += 1
            rest /= 10
        }
        for _ in digits..<Swift.max(width, digits) { append(UInt8(ascii: "0")) }
        appendDecimal(value)
    }

    /// A C `printf` conversion of one double (`%-20g`, `%.20g`), as the servers' tools print floats.
    mutating func appendPrintf(_ format: String, _ value: Double) {
        var buffer = [CChar](repeating: 0, count: 400)
        let length = withVaList([value]) { arguments in
            buffer.withUnsafeMutableBufferPointer { vsnprintf($0.baseAddress, 400, format, arguments) }
        }
        buffer.withUnsafeBytes { append(contentsOf: $0.prefix(Int(Swift.max(0, Swift.min(length, 399))))) }
    }

    mutating func appendHex(_ bytes: UnsafeRawBufferPointer) {
        let digits: StaticString = "0123456789abcdef"
        // 32 input bytes at a time through a 64-byte stack buffer, appended in one copy.
        var chunk: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0, 0, 0, 0)
        var start = 0
        while start < bytes.count {
            let end = Swift.min(bytes.count, start + 32)
            Swift.withUnsafeMutableBytes(of: &chunk) { buffer in
                var out = 0
                for index in start..<end {
                    buffer[out] = digits.utf8Start[Int(bytes[index] >> 4)]
                    buffer[out + 1] = digits.utf8Start[Int(bytes[index] & 15)]
                    out += 2
                }
                append(contentsOf: UnsafeRawBufferPointer(rebasing: buffer[0..<out]))
            }
            start = end
        }
    }

    mutating func appendHexByte(_ byte: UInt8) {
        let digits: StaticString = "0123456789abcdef"
        append(digits.utf8Start[Int(byte >> 4)])
        append(digits.utf8Start[Int(byte & 15)])
    }

    mutating func appendHex32(_ value: UInt32) {
        appendHex(UInt64(value), digits: 8)
    }

    /// `value` in lower-case hex, zero-padded to `digits` (at most 16).
    mutating func appendHex(_ value: UInt64, digits count: Int) {
        let digits: StaticString = "0123456789abcdef"
        var text: (UInt64, UInt64) = (0, 0)
        Swift.withUnsafeMutableBytes(of: &text) { buffer in
            for index in 0..<count {
                buffer[index] = digits.utf8Start[Int((value >> UInt64(4 * (count - 1 - index))) & 15)]
            }
            append(contentsOf: UnsafeRawBufferPointer(rebasing: buffer[0..<count]))
        }
    }

    /// A MySQL server UUID as `3e11fa47-71ca-11e1-9e33-c80aa9429562`.
    mutating func appendUUID(_ uuid: UUID16) {
        appendHex(uuid.high >> 32, digits: 8)
        append(UInt8(ascii: "-"))
        appendHex(uuid.high >> 16 & 0xFFFF, digits: 4)
        append(UInt8(ascii: "-"))
        appendHex(uuid.high & 0xFFFF, digits: 4)
        append(UInt8(ascii: "-"))
        appendHex(uuid.low >> 48, digits: 4)
        append(UInt8(ascii: "-"))
        appendHex(uuid.low & 0xFFFF_FFFF_FFFF, digits: 12)
    }

    /// A MariaDB GTID as `domain-server-sequence`.
    mutating func appendGTID(_ gtid: MariaDBGTID) {
        appendDecimal(gtid.domainID)
        append(UInt8(ascii: "-"))
        appendDecimal(gtid.serverID)
        append(UInt8(ascii: "-"))
        appendDecimal(gtid.sequence)
    }
}
