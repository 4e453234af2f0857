/// A bitmap of row events (columns present, NULLs): least significant bit first, as the server
/// writes them in row events. A view; it owns nothing.
public struct Bitmap {
    public let bytes: UnsafeRawBufferPointer
    public let count: Int


    public init(bytes: UnsafeRawBufferPointer, count: Int) {
        self.bytes = bytes
        self.count = count
    }


    public subscript(index: Int) -> Bool {
        bytes[index &>> 3] &>> UInt8(truncatingIfNeeded: index & 7) & 1 != 0
    }

    /// Number of bits set among the first `count`.

    public var setBitCount: Int {
        var total = 0
        let wholeBytes = count >> 3
        for index in 0..<wholeBytes { total += bytes[index].nonzeroBitCount }
        let rest = count & 7
        if rest > 0 { total += (bytes[wholeBytes] & UInt8((1 << rest) - 1)).nonzeroBitCount }
        return total
    }

    static func byteCount(_ bits: Int) -> Int { (bits + 7) >> 3 }
}
