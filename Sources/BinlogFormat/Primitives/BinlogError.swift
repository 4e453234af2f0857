/// Why decoding stopped: the bytes were short, wrong, or of a kind the relay refuses.
///
/// Errors carry the byte offset (from the start of the file or stream) and, when known,
/// the event type and the file, so a message names exactly where the input went wrong.
public struct BinlogError: Error, Sendable, CustomStringConvertible, Equatable {
    /// A stable classification; compare codes, not messages.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String, Hashable, Sendable {
            case truncated, corrupt, checksumMismatch, badMagic, unsupported, encrypted
        }
        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// The input ended before a complete value, header or event.
        public static let truncated = Code(.truncated)
        /// A value or length that cannot be right (out of range, inconsistent sizes).
        public static let corrupt = Code(.corrupt)
        /// The stored CRC32 does not match the event's bytes.
        public static let checksumMismatch = Code(.checksumMismatch)
        /// The file does not start with the binlog magic `\xfebin`.
        public static let badMagic = Code(.badMagic)
        /// Valid input the relay cannot decode (for example an old pre-5.0 DECIMAL).
        public static let unsupported = Code(.unsupported)
        /// The binlog is encrypted (MariaDB START_ENCRYPTION); the relay needs it in clear.
        public static let encrypted = Code(.encrypted)

        public var description: String { base.rawValue }
    }

    public var code: Code
    public var message: String
    /// Byte offset of the problem from the start of the file or stream, when known.
    public var offset: Int?
    /// Offset of the event in which the problem was found, when known.
    public var eventOffset: Int?
    /// The type of that event, when known.
    public var eventType: EventType?
    /// The file being decoded, when known.
    public var file: String?

    public init(
        _ code: Code,
        _ message: String,
        offset: Int? = nil,
        eventOffset: Int? = nil,
        eventType: EventType? = nil,
        file: String? = nil
    ) {
        self.code = code
        self.message = message
        self.offset = offset
        self.eventOffset = eventOffset
        self.eventType = eventType
        self.file = file
    }

    public var description: String {
        var parts: [String] = []
        if let file { parts.append(file) }
        if let eventOffset {
            var at = "event at offset \(eventOffset)"
            if let eventType { at += " (\(eventType))" }
            parts.append(at)
        } else if let eventType {
            parts.append("\(eventType)")
        }
        if let offset { parts.append("byte \(offset)") }
        let place = parts.joined(separator: ", ")
        return place.isEmpty ? "\(code): \(message)" : "\(place): \(code): \(message)"
    }

    /// The same error with the event that contained it filled in (where not already known).
    func inEvent(at eventOffset: Int, type: EventType) -> BinlogError {
        var copy = self
        if copy.eventOffset == nil { copy.eventOffset = eventOffset }
        if copy.eventType == nil { copy.eventType = type }
        return copy
    }
}
