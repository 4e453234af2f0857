import BinlogFormat
import SystemPackage

/// One event read back from the log. A view: `bytes` is valid until the reader's next call.
public struct RelayLogEntry {
    /// The whole event as stored (header, body, checksum).
    public let bytes: UnsafeRawBufferPointer
    public let header: EventHeader
    /// Where the event starts.
    public let location: RelayLogLocation
    /// Where the next event starts (after a closing ROTATE: the start of the next segment).
    public let nextLocation: RelayLogLocation
    /// The event was written by the relay (segment prologue, source ROTATE, closing ROTATE), not
    /// received from the source. Consumers that apply events skip these; decoders still see them.
    public let isRelayMade: Bool
}

/// Reads the log's events in order, across segments, up to a limit the caller gives: the
/// writer's durable end (``RelayLogWriter/durablePosition``), so nothing is read that a crash
/// could take back. For the applier and `inspect`; independent of the writer (no lock), one
/// thread at a time.
///
/// Events are framed (size field) but not decoded: give them to a `BinlogDecoder`, which checks
/// CRCs. ``formatDescription`` is the FORMAT_DESCRIPTION in force at ``location``, for a decoder
/// that starts in the middle of a segment.
public final class RelayLogReader {
    public let directory: FilePath
    /// Where the next event starts.
    public private(set) var location: RelayLogLocation
    /// The FORMAT_DESCRIPTION in force at ``location`` (raw bytes); nil before the first one.
    public private(set) var formatDescription: [UInt8]?

    private var descriptor: FileDescriptor?
    private var region: MappedRegion?
    private var openSegment: Int?
    /// Where pages before were last given back (see ``MappedRegion/release(before:)``).
    private var releasedBefore: Int64 = 0

    /// - Parameters:
    ///   - directory: the log directory.
    ///   - location: where to start: the start of a segment (offset 0 or 4) or an event boundary
    ///     (a ``RelayLogPosition/location``, an entry's ``RelayLogEntry/nextLocation``). Nil: the
    ///     start of the oldest segment.
    public init(directory: FilePath, from location: RelayLogLocation? = nil) throws(RelayLogError) {
        self.directory = directory
        if let location {
            self.location = location
        } else {
            guard let first = try SegmentIndex.segmentNumbers(in: directory).first else {
                throw RelayLogError(.misuse, "the log directory holds no segment", path: directory.string)
            }
            self.location = RelayLogLocation(segment: first, offset: 4)
        }
        if self.location.offset < 4 { self.location.offset = 4 }
        try open(self.location.segment, through: nil)
        if self.location.offset > 4 { try findFormat(before: self.location.offset) }
    }

    deinit {
        region = nil
        if let descriptor { try? descriptor.close() }
    }

    /// The next event before `end`, or nil when ``location`` has reached it.
    /// - Throws: ``RelayLogError/Code/corrupt`` when an event before `end` is not whole (the log
    ///   was damaged after it was made durable), `io` when a segment cannot be read.
    public func next(upTo end: RelayLogLocation) throws(RelayLogError) -> RelayLogEntry? {
        guard location < end else { return nil }
        let limit: Int64? = location.segment == end.segment ? end.offset : nil
        try open(location.segment, through: limit)
        guard let region else { return nil }
        let bytes = region.bytes
        let offset = Int(location.offset)
        let available = Int(limit ?? Int64(bytes.count))
        guard offset < available else {
            // The end of a closed segment without a closing ROTATE read: only if the caller's limit
            // is past it. Move on.
            guard location.segment < end.segment else { return nil }
            location = RelayLogLocation(segment: location.segment + 1, offset: 4)
            return try next(upTo: end)
        }
        let path = directory.appending(Segment.fileName(location.segment))
        guard available - offset >= EventHeader.length else {
            throw RelayLogError(.corrupt, "event header at offset \(offset) is cut short", path: path.string)
        }
        let size = Int(bytes.loadLittleEndian(at: offset + 9, width: 4))
        guard size >= EventHeader.length, size <= available - offset else {
            throw RelayLogError(
                .corrupt, "event at offset \(offset) claims \(size) bytes, \(available - offset) are there",
                path: path.string)
        }
        let event = UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + size)])
        let header: EventHeader
        do {
            header = try EventHeader(decoding: event)
        } catch {
            throw RelayLogError(.corrupt, "unreadable event header", path: path.string, decodeError: error)
        }
        if header.type == .formatDescription { formatDescription = Self.sourceFormat(event) }
        let relayMade = Segment.relayMade(header)
        let start = location
        if relayMade == .closingRotate {
            location = RelayLogLocation(segment: location.segment + 1, offset: 4)
        } else {
            location.offset += Int64(size)
            // The previous event's bytes are still the caller's until the next call: keep a margin.
            if location.offset - releasedBefore >= 64 << 20 {
                region.release(before: Int(location.offset) - (16 << 20))
                releasedBefore = location.offset
            }
        }
        return RelayLogEntry(
            bytes: event, header: header, location: start, nextLocation: location, isRelayMade: relayMade != nil)
    }

    /// A CRC32 of the (up to 4 KiB of) bytes just before `location` in its segment. The applier
    /// keeps it with its checkpoint: the log is append-only, so the same log gives the same value
    /// for as long as the segment exists, and a different log (a directory made anew from another
    /// start) almost surely another, before anything is applied from the wrong place.
    public func fingerprint(before location: RelayLogLocation) throws(RelayLogError) -> UInt32 {
        // Read with pread, never by mapping: remapping would free the bytes of the entry the
        // caller may still be holding.
        let end = Int64(location.offset)
        let start = max(0, end - 4096)
        guard end > start else { return crc32(UnsafeRawBufferPointer(start: nil, count: 0)) }
        let path = directory.appending(Segment.fileName(location.segment))
        let file: FileDescriptor
        var temporary: FileDescriptor?
        if openSegment == location.segment, let descriptor {
            file = descriptor
        } else {
            temporary = try SegmentIndex.openSegment(path, .readOnly)
            file = temporary!
        }
        defer { if let temporary { try? temporary.close() } }
        var buffer = [UInt8](repeating: 0, count: Int(end - start))
        var readError: Errno?
        let count = buffer.withUnsafeMutableBytes { bytes -> Int in
            do {
                return try file.read(fromAbsoluteOffset: start, into: bytes)
            } catch {
                readError = (error as? Errno) ?? .ioError
                return -1
            }
        }
        if let readError { throw .system(readError, "cannot read the segment", path: path) }
        guard count == buffer.count else {
            throw RelayLogError(.corrupt, "the segment ends before offset \(end)", path: path.string)
        }
        return buffer.withUnsafeBytes { crc32($0) }
    }

    /// Maps segment `number` (whole, or at least `through` bytes of it).
    private func open(_ number: Int, through limit: Int64?) throws(RelayLogError) {
        if openSegment == number, let region, limit.map({ Int64(region.bytes.count) >= $0 }) ?? true {
            return
        }
        let path = directory.appending(Segment.fileName(number))
        if openSegment != number {
            region = nil
            if let descriptor { try? descriptor.close() }
            descriptor = nil
            openSegment = nil
            descriptor = try SegmentIndex.openSegment(path, .readOnly)
            openSegment = number
        }
        guard let descriptor else { return }
        let size: Int64
        do throws(Errno) {
            size = try descriptor.sizeAndModificationTime().size
        } catch {
            throw .system(error, "cannot stat the segment", path: path)
        }
        if let limit, size < limit {
            throw RelayLogError(
                .corrupt, "the segment holds \(size) bytes, \(limit) were expected (durable data is missing)",
                path: path.string)
        }
        region = nil
        region = try MappedRegion(descriptor, count: Int(size), path: path)
        releasedBefore = 0
        let bytes = region!.bytes
        guard bytes.count >= 4, bytes.prefix(4).elementsEqual(Segment.magic) else {
            throw RelayLogError(.corrupt, "the segment does not start with the binlog magic", path: path.string)
        }
    }

    /// A FORMAT_DESCRIPTION as the source sent it (a segment's copy without the relay's mark).
    static func sourceFormat(_ event: UnsafeRawBufferPointer) -> [UInt8] {
        let bytes = Array(event)
        guard bytes.count > 17, bytes[17] & UInt8(Segment.relayLogFlag) != 0 else { return bytes }
        var decoder = BinlogDecoder()
        guard let decoded = try? decoder.decode(event, at: 0), case .formatDescription(let format) = decoded.payload
        else { return bytes }
        return Segment.formatCopy(bytes, checksum: format.checksumAlgorithm, marked: false)
    }

    /// Walks the current segment's events from its start to `offset` to find the format in force.
    private func findFormat(before offset: Int64) throws(RelayLogError) {
        guard let bytes = region?.bytes else { return }
        var position = 4
        while position < Int(offset), bytes.count - position >= EventHeader.length {
            let size = Int(bytes.loadLittleEndian(at: position + 9, width: 4))
            guard size >= EventHeader.length, position + size <= bytes.count else { break }
            if bytes[position + 4] == EventType.formatDescription.rawValue {
                formatDescription = Self.sourceFormat(UnsafeRawBufferPointer(rebasing: bytes[position..<(position + size)]))
            }
            position += size
        }
        guard position == Int(offset) else {
            throw RelayLogError(
                .misuse, "offset \(offset) is not the start of an event",
                path: directory.appending(Segment.fileName(location.segment)).string)
        }
    }
}
