import SystemPackage

/// `relay.state`: the last durable position in words, replaced atomically.
///
/// ```
/// # binlog-relay relay log state (a hint: the segments are the truth)
/// version 1
/// segment relay-000042.bin
/// offset 123456
/// source_file mysql-bin.000042
/// source_position 98765
/// gtid 3e11fa47-71ca-11e1-9e33-c80aa9429562:1-100
/// timestamp 1700000000
/// written 1700000003
/// ```
///
/// Written as `relay.state.tmp`, fsynced, renamed over `relay.state`, then the directory fsynced.
/// Tools read it for the durable position without scanning; recovery compares what it finds with
/// it and reports when the segments hold less than it says (storage that lost fsynced data).
public struct RelayLogState: Sendable, Equatable {
    public var location: RelayLogLocation
    public var source: SourcePosition
    public var gtidState: GTIDState
    public var timestamp: UInt32
    /// When the file was written (seconds since the epoch).
    public var written: Int64

    static let fileName = "relay.state"
    static let temporaryName = "relay.state.tmp"

    var text: String {
        """
        # binlog-relay relay log state (a hint: the segments are the truth)
        version 1
        segment \(Segment.fileName(location.segment))
        offset \(location.offset)
        source_file \(source.file)
        source_position \(source.position)
        gtid \(gtidState)
        timestamp \(timestamp)
        written \(written)

        """
    }

    /// Parses the file's text; nil when it is not a state file of this version.
    init?(text: String) {
        var fields: [Substring: Substring] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            if let space = line.firstIndex(of: " ") {
                fields[line[..<space]] = line[line.index(after: space)...]
            } else {
                fields[line] = ""
            }
        }
        guard fields["version"] == "1", let name = fields["segment"], let segment = Segment.number(fromFileName: String(name)),
            let offsetText = fields["offset"], let offset = Int64(offsetText),
            let positionText = fields["source_position"], let position = UInt64(positionText),
            let gtid = GTIDState(parsing: String(fields["gtid"] ?? ""))
        else { return nil }
        location = RelayLogLocation(segment: segment, offset: offset)
        source = SourcePosition(file: String(fields["source_file"] ?? ""), position: position)
        gtidState = gtid
        timestamp = fields["timestamp"].flatMap { UInt32($0) } ?? 0
        written = fields["written"].flatMap { Int64($0) } ?? 0
    }

    init(position: RelayLogPosition, written: Int64) {
        location = position.location
        source = position.source
        gtidState = position.gtidState
        timestamp = position.timestamp
        self.written = written
    }

    /// Reads the state file of a log directory; nil when there is none or it cannot be parsed.
    public static func read(directory: FilePath) -> RelayLogState? {
        let path = directory.appending(fileName)
        guard let descriptor = try? FileDescriptor.open(path, .readOnly) else { return nil }
        defer { try? descriptor.close() }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            guard let count = try? chunk.withUnsafeMutableBytes({ try descriptor.read(into: $0) }), count > 0 else {
                break
            }
            bytes += chunk[0..<count]
            if bytes.count > 1 << 20 { return nil }
        }
        return RelayLogState(text: String(decoding: bytes, as: UTF8.self))
    }

    /// Replaces the state file atomically and durably.
    func write(directory: FilePath, directoryDescriptor: FileDescriptor) throws(RelayLogError) {
        let temporary = directory.appending(Self.temporaryName)
        let final = directory.appending(Self.fileName)
        let descriptor: FileDescriptor
        do {
            descriptor = try FileDescriptor.open(
                temporary, .writeOnly, options: [.create, .truncate], permissions: [.ownerReadWrite, .groupRead])
        } catch {
            throw .system(error as? Errno ?? .ioError, "cannot create the state file", path: temporary)
        }
        do throws(RelayLogError) {
            do {
                try descriptor.writeAll(text.utf8)
            } catch {
                throw RelayLogError.system(error as? Errno ?? .ioError, "cannot write the state file", path: temporary)
            }
            do throws(Errno) {
                try descriptor.fullSync()
            } catch {
                throw RelayLogError.system(error, "cannot fsync the state file", path: temporary)
            }
            try? descriptor.close()
        } catch {
            try? descriptor.close()
            _ = FileSystem.removeFile(temporary)
            throw error
        }
        if case .failure(let error) = FileSystem.renameFile(temporary, to: final) {
            throw .system(error, "cannot rename the state file into place", path: final)
        }
        do throws(Errno) {
            try directoryDescriptor.fullSync()
        } catch {
            throw .system(error, "cannot fsync the log directory", path: directory)
        }
    }
}
