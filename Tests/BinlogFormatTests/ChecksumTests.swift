import BinlogFormat
import CZlib
import Testing

/// The CRC32 that verifies every event (carry-less multiply on x86-64, zlib elsewhere) equals
/// zlib's on every length and alignment around the 16- and 64-byte block boundaries.
@Suite("CRC32")
struct ChecksumTests {
    static func zlib(_ bytes: UnsafeRawBufferPointer, seed: UInt32) -> UInt32 {
        guard let base = bytes.baseAddress else { return seed }
        return UInt32(CZlib.crc32(UInt(seed), base.assumingMemoryBound(to: UInt8.self), UInt32(bytes.count)))
    }

    @Test("the check value of \"123456789\" is 0xCBF43926")
    func checkValue() {
        let digits = Array("123456789".utf8)
        #expect(digits.withUnsafeBytes { crc32($0) } == 0xCBF4_3926)
        let long = [UInt8](repeating: 0x61, count: 1000)
        #expect(long.withUnsafeBytes { crc32($0) } == long.withUnsafeBytes { Self.zlib($0, seed: 0) })
    }

    @Test("equals zlib on random bytes: every length to 600, every start offset mod 16, random seeds")
    func randomAgainstZlib() {
        var generator = SystemRandomNumberGenerator()
        let buffer = (0..<(600 + 16)).map { _ in UInt8.random(in: 0...255, using: &generator) }
        buffer.withUnsafeBytes { all in
            for length in 0...600 {
                for start in [0, 1, 3, 7, 8, 15] {
                    let bytes = UnsafeRawBufferPointer(rebasing: all[start..<(start + length)])
                    let seed: UInt32 = length % 3 == 0 ? 0 : UInt32.random(in: 0...UInt32.max, using: &generator)
                    let ours = crc32(bytes, seed: seed)
                    let theirs = Self.zlib(bytes, seed: seed)
                    if ours != theirs {
                        Issue.record("length \(length), start \(start), seed \(seed): \(ours) != zlib \(theirs)")
                        return
                    }
                }
            }
        }
    }

    @Test("equals zlib on large random buffers and when continued piece by piece")
    func largeAndContinued() {
        var generator = SystemRandomNumberGenerator()
        for length in [4096, 65_536 + 13, 1 << 20] {
            let buffer = (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
            buffer.withUnsafeBytes { bytes in
                let whole = crc32(bytes)
                #expect(whole == Self.zlib(bytes, seed: 0), "length \(length)")
                var piecewise: UInt32 = 0
                var start = 0
                while start < length {
                    let end = Swift.min(length, start + Int.random(in: 1...300, using: &generator))
                    piecewise = crc32(UnsafeRawBufferPointer(rebasing: bytes[start..<end]), seed: piecewise)
                    start = end
                }
                #expect(piecewise == whole, "length \(length) in pieces")
            }
        }
    }
}
