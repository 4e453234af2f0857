/// A NEWDECIMAL value in MySQL's binary decimal format, kept as its bytes.
///
/// Format (MySQL `strings/decimal.cc`, `bin2decimal`): the integer and fractional digits are
/// stored in groups of nine decimal digits per 4 bytes, big-endian, with a shorter leading
/// (integer) and trailing (fraction) group; the sign is the inverted top bit of the first
/// byte, and negative numbers have every byte inverted. Nothing goes through floating point.
public struct Decimal: CustomStringConvertible {
    public let bytes: UnsafeRawBufferPointer
    public let precision: Int
    public let scale: Int

    static let bytesForDigits: [Int] = [0, 1, 1, 2, 2, 3, 3, 4, 4, 4]
    static let powersOfTen: [UInt32] = [
        1, 10, 100, 1000, 10000, 100_000, 1_000_000, 10_000_000, 100_000_000, 1_000_000_000,
    ]


    public static func binarySize(precision: Int, scale: Int) -> Int {
        let integerDigits = precision - scale
        return integerDigits / 9 * 4 + bytesForDigits[integerDigits % 9] + scale / 9 * 4 + bytesForDigits[scale % 9]
    }


    public init(bytes: UnsafeRawBufferPointer, precision: Int, scale: Int) {
        self.bytes = bytes
        self.precision = precision
        self.scale = scale
    }

    public var isNegative: Bool { bytes.count > 0 && bytes[0] & 0x80 == 0 }

    /// Checks that every digit group is in range, as the server's `bin2decimal` does.
    public func validate() throws(BinlogError) {
        var valid = true
        forEachGroup { value, digits in
            if value >= UInt64(Decimal.powersOfTen[digits]) { valid = false }
        }
        if !valid {
            throw BinlogError(.corrupt, "DECIMAL(\(precision),\(scale)) value has a digit group out of range")
        }
    }

    /// Calls `body` with each digit group (value, number of decimal digits), integer part first.

    func forEachGroup(_ body: (UInt64, Int) -> Void) {
        let integerDigits = precision - scale
        let mask: UInt8 = isNegative ? 0xFF : 0x00
        var position = 0
        func read(_ count: Int) -> UInt64 {
            var value: UInt64 = 0
            for index in 0..<count {
                var byte = bytes[position + index] ^ mask
                if position + index == 0 { byte ^= 0x80 }
                value = value << 8 | UInt64(byte)
            }
            position += count
            return value
        }
        let leadingDigits = integerDigits % 9
        if leadingDigits > 0 { body(read(Decimal.bytesForDigits[leadingDigits]), leadingDigits) }
        for _ in 0..<(integerDigits / 9) { body(read(4), 9) }
        for _ in 0..<(scale / 9) { body(read(4), 9) }
        let trailingDigits = scale % 9
        if trailingDigits > 0 { body(read(Decimal.bytesForDigits[trailingDigits]), trailingDigits) }
    }

    /// Appends the exact decimal text (`-12.3400` for DECIMAL(6,4)) to `output`.
    public func write(into output: inout [UInt8]) {
        let integerDigits = precision - scale
        // The digits are collected on the stack (DECIMAL has at most 65), then appended at once.
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: Swift.max(precision, 1)) { digits in
            var count = 0
            forEachGroup { value, groupDigits in
                var divisor = UInt64(Decimal.powersOfTen[groupDigits - 1])
                var rest = value
                for _ in 0..<groupDigits {
                    // Out-of-range groups (corrupt input) are clamped to 9 per digit rather than trap.
                    if count < digits.count {
                        digits[count] = UInt8(truncatingIfNeeded: Swift.min(rest / divisor, 9)) + 0x30
                        count += 1
                    }
                    rest %= divisor
                    divisor /= 10
                }
            }
            let all = UnsafeBufferPointer(rebasing: digits[0..<count])
            let integerEnd = Swift.max(0, Swift.min(integerDigits, count))
            if isNegative { output.append(UInt8(ascii: "-")) }
            var integerStart = 0
            while integerStart < integerEnd && all[integerStart] == UInt8(ascii: "0") { integerStart += 1 }
            if integerStart == integerEnd {
                output.append(UInt8(ascii: "0"))
            } else {
                output.append(contentsOf: UnsafeBufferPointer(rebasing: all[integerStart..<integerEnd]))
            }
            if scale > 0 {
                output.append(UInt8(ascii: "."))
                output.append(contentsOf: UnsafeBufferPointer(rebasing: all[integerEnd..<count]))
            }
        }
    }

    public var description: String {
        var output: [UInt8] = []
        write(into: &output)
        return String(decoding: output, as: UTF8.self)
    }
}
