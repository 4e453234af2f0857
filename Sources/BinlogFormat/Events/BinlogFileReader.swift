/// Reads the events of a binlog file held in memory: checks the magic, frames each event by
/// its size field, and decodes it.
///
/// The reader borrows `bytes`; events it returns are views valid until the next call.
public struct BinlogFileReader {
    public static let magic: [UInt8] = [0xFE, 0x62, 0x69, 0x6E]  // "\xfebin"

    public let bytes: UnsafeRawBufferPointer
    public var decoder: BinlogDecoder
    /// Offset of the next event.
    public private(set) var offset: Int
    /// The file name, for error messages.
    public let file: String?

    public init(bytes: UnsafeRawBufferPointer, file: String? = nil, verifiesChecksums: Bool = true)
        throws(BinlogError)
    {
        self.bytes = bytes
        self.file = file
        self.decoder = BinlogDecoder(verifiesChecksums: verifiesChecksums)
        guard bytes.count >= 4, bytes[0] == 0xFE, bytes[1] == 0x62, bytes[2] == 0x69, bytes[3] == 0x6E else {
            var error = BinlogError(
                .badMagic, bytes.count < 4 ? "file is \(bytes.count) bytes, shorter than the binlog magic"
                    : "not a binlog file: it does not start with the magic bytes fe 62 69 6e", offset: 0)
            error.file = file
            throw error
        }
        self.offset = 4
    }

    /// The next event, or nil at the end of the file.
    public mutating func next() throws(BinlogError) -> BinlogEvent? {
        guard offset < bytes.count else { return nil }
        do {
            let event = try BinlogDecoder.frame(bytes, at: offset, baseOffset: 0)
            let decoded = try decoder.decode(event, at: offset)
            offset += event.count
            return decoded
        } catch {
            var error = error
            error.file = file
            if error.eventOffset == nil {
                error.eventOffset = offset
                if bytes.count - offset > 4 { error.eventType = EventType(rawValue: bytes[offset + 4]) }
            }
            throw error
        }
    }
}
