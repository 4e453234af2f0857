import BinlogFormat
import SystemPackage

/// The index of a log directory, derived from the segment files themselves (there is no index
/// file to keep in step): the numbered `relay-NNNNNN.bin` files, each described by its first
/// events (where in the source it starts, the GTID state there) and its size and age.
public enum SegmentIndex {
    /// The segment numbers in a directory, ascending; throws when they are not contiguous (a
    /// segment in the middle was removed by hand).
    static func segmentNumbers(in directory: FilePath) throws(RelayLogError) -> [Int] {
        let numbers = try FileSystem.listDirectory(directory).compactMap(Segment.number(fromFileName:)).sorted()
        for (previous, next) in zip(numbers, numbers.dropFirst()) where next != previous + 1 {
            throw RelayLogError(
                .corrupt,
                "segments \(Segment.fileName(previous + 1)) to \(Segment.fileName(next - 1)) are missing between"
                    + " \(Segment.fileName(previous)) and \(Segment.fileName(next))",
                path: directory.string)
        }
        return numbers
    }

    /// Every segment of a log directory, oldest first. Reads the first events of each file.
    public static func read(directory: FilePath) throws(RelayLogError) -> [SegmentInfo] {
        var infos: [SegmentInfo] = []
        for number in try segmentNumbers(in: directory) {
            infos.append(try info(directory: directory, number: number))
        }
        return infos
    }

    /// Describes one segment from its first events.
    static func info(directory: FilePath, number: Int) throws(RelayLogError) -> SegmentInfo {
        let path = directory.appending(Segment.fileName(number))
        let descriptor = try openSegment(path, .readOnly)
        defer { try? descriptor.close() }
        let stat: (size: Int64, modified: Int64)
        do throws(Errno) {
            stat = try descriptor.sizeAndModificationTime()
        } catch {
            throw .system(error, "cannot stat the segment", path: path)
        }
        let region = try MappedRegion(descriptor, count: Int(stat.size), path: path)
        guard let prologue = Prologue.read(region.bytes) else {
            throw RelayLogError(.corrupt, "the segment does not begin with a complete prologue", path: path.string)
        }
        return SegmentInfo(
            number: number, source: prologue.state.source, gtidState: prologue.state.gtid, size: stat.size,
            modified: stat.modified)
    }

    static func openSegment(_ path: FilePath, _ mode: FileDescriptor.AccessMode) throws(RelayLogError)
        -> FileDescriptor
    {
        do {
            return try FileDescriptor.open(path, mode)
        } catch let error as Errno {
            throw .system(error, "cannot open the segment", path: path)
        } catch {
            throw RelayLogError(.io, "cannot open the segment: \(error)", path: path.string)
        }
    }
}

/// The first events of a segment: FORMAT_DESCRIPTION, the GTID state, the source ROTATE.
struct Prologue {
    /// Offset just after the prologue.
    var end: Int
    /// The state the prologue establishes.
    var state: StreamState
    var reader: BinlogFileReader

    /// Reads the prologue at the start of `bytes`; nil when it is not complete and valid.
    static func read(_ bytes: UnsafeRawBufferPointer) -> Prologue? {
        guard var reader = try? BinlogFileReader(bytes: bytes) else { return nil }
        var state = StreamState()
        guard let first = try? reader.next(), first.type == .formatDescription else { return nil }
        _ = state.consume(first)
        while true {
            guard let event = try? reader.next() else { return nil }
            switch Segment.relayMade(event.header) {
            case .gtidState:
                _ = state.consume(event)
            case .sourceRotate:
                _ = state.consume(event)
                return Prologue(end: reader.offset, state: state, reader: reader)
            default:
                return nil
            }
        }
    }
}
