import BinlogFormat

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Small formatting helpers that append bytes, shared by the text and JSON-lines formats.
extension Array where Element == UInt8 {
    mutating func append(_ text: String) { append(contentsOf: text.utf8) }

    mutating func appendDecimal<T: BinaryInteger>(_ value: T) {
        if value == 0 {
            append(UInt8(ascii: "0"))
            return
        }
        var magnitude = value.magnitude
        if value < 0 { append(UInt8(ascii: "-")) }
        // Up to 20 digits for 64 bits, written backwards into a fixed tuple (no allocation).
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)
        var count = 0
        Swift.withUnsafeMutableBytes(of: &digits) { buffer in
            while magnitude > 0 {
                buffer[count] = UInt8(truncatingIfNeeded: magnitude % 10) + 0x30
                magnitude /= 10
                count += 1
            }
        }
        Swift.withUnsafeBytes(of: &digits) { buffer in
            for index in stride(from: count - 1, through: 0, by: -1) { append(buffer[index]) }
        }
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
        for byte in bytes {
            append(digits.utf8Start[Int(byte >> 4)])
            append(digits.utf8Start[Int(byte & 15)])
        }
    }

    mutating func appendHexByte(_ byte: UInt8) {
        let digits: StaticString = "0123456789abcdef"
        append(digits.utf8Start[Int(byte >> 4)])
        append(digits.utf8Start[Int(byte & 15)])
    }

    mutating func appendHex32(_ value: UInt32) {
        let digits: StaticString = "0123456789abcdef"
        for shift in stride(from: 28, through: 0, by: -4) {
            append(digits.utf8Start[Int((value >> UInt32(shift)) & 15)])
        }
    }
}

/// Civil date and time (UTC) of a Unix timestamp, without Foundation.
struct UTCDateTime {
    var year: Int, month: Int, day: Int, hour: Int, minute: Int, second: Int

    init(unixSeconds: Int64) {
        let days = Int(unixSeconds >= 0 ? unixSeconds / 86400 : (unixSeconds - 86399) / 86400)
        let secondsOfDay = Int(unixSeconds - Int64(days) * 86400)
        // Howard Hinnant's days-from-civil inverse.
        let shifted = days + 719_468
        let era = (shifted >= 0 ? shifted : shifted - 146_096) / 146_097
        let dayOfEra = shifted - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthPrime = (5 * dayOfYear + 2) / 153
        day = dayOfYear - (153 * monthPrime + 2) / 5 + 1
        month = monthPrime < 10 ? monthPrime + 3 : monthPrime - 9
        year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        hour = secondsOfDay / 3600
        minute = secondsOfDay / 60 % 60
        second = secondsOfDay % 60
    }
}
