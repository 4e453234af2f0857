import BinlogFormat
import SystemPackage

/// What recovery found on start and what it did.
public struct RecoveryReport: Sendable {
    /// Bytes cut off the end of the last segment (a torn event, a bad CRC, half a transaction,
    /// a closing ROTATE whose next segment was never begun).
    public var truncatedBytes: Int64 = 0
    /// Where the log was cut, when it was.
    public var truncatedAt: RelayLogLocation?
    /// Why the scan stopped before the end of the file, when it did (the decode error).
    public var reason: String?
    /// Segments deleted because their prologue was incomplete (a crash while beginning them).
    public var deletedSegments: [String] = []
    /// Things the operator should know (the state file promised more than the disk holds).
    public var warnings: [String] = []
    /// Bytes of the last segment read and verified.
    public var scannedBytes: Int64 = 0
    public var duration: Duration = .zero
}

extension RelayLogWriter {
    /// Recovery: the segments are the truth, the state file a hint.
    ///
    /// 1. Segment numbers must be contiguous (a gap means files were removed by hand: refuse).
    /// 2. The last segment is scanned from its start: framing, CRC32 of every event, the prologue,
    ///    and transaction boundaries. The first event that fails ends the scan.
    /// 3. A last segment whose prologue is incomplete was being begun when the process died: it is
    ///    deleted (unless the state file says data in it was durable: then it is damage, refused)
    ///    and the one before it becomes the last (its closing ROTATE is cut off in step 4).
    /// 4. The last segment is truncated just after its last complete transaction (a closing ROTATE
    ///    without a next segment is cut too), then fdatasynced: what was written but not synced
    ///    before the crash is kept only if whole, and is durable from now on.
    /// 5. The state file is compared (a warning when it promised more), then rewritten.
    func recover() throws(RelayLogError) {
        let clock = ContinuousClock()
        let start = clock.now
        var report = RecoveryReport()
        _ = FileSystem.removeFile(directory.appending(RelayLogState.temporaryName))
        var numbers = try SegmentIndex.segmentNumbers(in: directory)
        let hint = RelayLogState.read(directory: directory)
        if numbers.isEmpty, let hint {
            throw RelayLogError(
                .corrupt,
                "the state file says the log is durable up to \(hint.location), but the directory holds no segment",
                path: directory.string)
        }
        while let last = numbers.last {
            let path = directory.appending(Segment.fileName(last))
            let descriptor = try SegmentIndex.openSegment(path, .readWrite)
            let size: Int64
            do throws(Errno) {
                size = try descriptor.sizeAndModificationTime().size
            } catch {
                try? descriptor.close()
                throw .system(error, "cannot stat the segment", path: path)
            }
            let scan: ScanResult?
            do {
                scan = try Self.scan(descriptor, size: size, path: path, number: last)
            } catch {
                try? descriptor.close()
                throw error
            }
            guard let scan else {
                // Incomplete prologue: a segment being begun when the process died.
                try? descriptor.close()
                if let hint, hint.location.segment >= last {
                    throw RelayLogError(
                        .corrupt,
                        "the segment's first events are damaged, but the state file says it held durable data up to"
                            + " \(hint.location)",
                        path: path.string)
                }
                if case .failure(let error) = FileSystem.removeFile(path) {
                    throw .system(error, "cannot delete an incomplete segment", path: path)
                }
                directoryDirty = true
                report.deletedSegments.append(Segment.fileName(last))
                numbers.removeLast()
                continue
            }
            report.scannedBytes = Int64(scan.scannedEnd)
            report.reason = scan.stopReason
            current = OpenSegment(number: last, descriptor: descriptor, path: path, written: size, needsSync: true)
            state = scan.state
            committed = scan.commit
            restore(scan.commit)
            if scan.commit.location.offset < size {
                report.truncatedBytes = size - scan.commit.location.offset
                report.truncatedAt = scan.commit.location
            }
            // Cut the tail, and make what stays durable (it may have been written, not synced).
            try truncateCurrent(to: scan.commit.location.offset)
            break
        }
        if directoryDirty {
            do throws(Errno) {
                try directoryDescriptor.fullSync()
            } catch {
                throw .system(error, "cannot fsync the log directory", path: directory)
            }
            directoryDirty = false
        }
        recovered = appendedPosition
        durablePosition = recovered
        if let hint, let recovered, hint.location > recovered.location {
            report.warnings.append(
                "the state file said the log was durable up to \(hint.location) (source \(hint.source)), but it holds"
                    + " complete transactions only up to \(recovered.location) (source \(recovered.source)): the"
                    + " storage lost data it had confirmed, or the log was damaged; the source will send it again")
        }
        if recovered != nil { try writeStateFile() }
        segments = try numbers.map { (number) throws(RelayLogError) in
            try SegmentIndex.info(directory: directory, number: number)
        }
        try checkClosedSegments()
        report.duration = start.duration(to: clock.now)
        recoveryReport = report
    }

    struct ScanResult {
        var state: StreamState
        var commit: CommitPoint
        /// Offset where reading stopped (end of the last whole, valid event).
        var scannedEnd: Int
        var stopReason: String?
    }

    /// Reads a segment from its start; nil when its prologue is incomplete.
    static func scan(_ descriptor: FileDescriptor, size: Int64, path: FilePath, number: Int) throws(RelayLogError)
        -> ScanResult?
    {
        let region = try MappedRegion(descriptor, count: Int(size), path: path)
        guard let prologue = Prologue.read(region.bytes) else { return nil }
        var reader = prologue.reader
        var state = prologue.state
        func point(_ offset: Int) -> CommitPoint {
            CommitPoint(
                location: RelayLogLocation(segment: number, offset: Int64(offset)), source: state.source,
                timestamp: state.timestamp, commitMicroseconds: state.commitMicroseconds,
                formatBytes: state.formatBytes, format: state.format)
        }
        var commit = point(prologue.end)
        var stopReason: String?
        var released = 0
        while true {
            let offset = reader.offset
            let event: BinlogEvent
            do {
                guard let next = try reader.next() else { break }
                event = next
            } catch {
                guard error.code == .truncated || error.code == .corrupt || error.code == .checksumMismatch else {
                    throw RelayLogError(
                        .corrupt, "an event in the segment cannot be decoded (not a torn tail: refusing to cut it)",
                        path: path.string, decodeError: error)
                }
                stopReason = "\(error)"
                break
            }
            if Segment.relayMade(event.header) == .closingRotate {
                stopReason = "closing ROTATE at offset \(offset) without a next segment"
                break
            }
            if state.consume(event) { commit = point(reader.offset) }
            // Keep resident memory small while a large segment is read through.
            if reader.offset - released >= 64 << 20 {
                released = reader.offset
                region.release(before: offset)
            }
        }
        let scannedEnd = reader.offset
        state.abandonTransaction()
        return ScanResult(state: state, commit: commit, scannedEnd: scannedEnd, stopReason: stopReason)
    }

    /// Each closed segment must end with the ROTATE naming the next (checked from its last bytes).
    func checkClosedSegments() throws(RelayLogError) {
        for (segment, next) in zip(segments, segments.dropFirst()) {
            let path = directory.appending(segment.fileName)
            let descriptor = try SegmentIndex.openSegment(path, .readOnly)
            defer { try? descriptor.close() }
            let name = Array(next.fileName.utf8)
            var matched = false
            for trailer in [4, 0] {
                let length = EventHeader.length + 8 + name.count + trailer
                guard segment.size >= Int64(length) else { continue }
                var bytes = [UInt8](repeating: 0, count: length)
                let count = try? bytes.withUnsafeMutableBytes {
                    try descriptor.read(fromAbsoluteOffset: segment.size - Int64(length), into: $0)
                }
                guard count == length else { continue }
                let ok = bytes.withUnsafeBytes { raw -> Bool in
                    guard let header = try? EventHeader(decoding: raw), Int(header.eventSize) == length,
                        Segment.relayMade(header) == .closingRotate
                    else { return false }
                    let stored = raw[(EventHeader.length + 8)..<(length - trailer)]
                    return stored.elementsEqual(name)
                }
                if ok {
                    matched = true
                    break
                }
            }
            guard matched else {
                throw RelayLogError(
                    .corrupt, "the segment does not end with the ROTATE to \(next.fileName): the log is damaged",
                    path: path.string)
            }
        }
    }
}
