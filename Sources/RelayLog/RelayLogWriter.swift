import BinlogFormat
import SystemPackage

/// The durable local log, written by the one task that reads the source.
///
/// Events go in as received (``append(_:)``), are copied once into a write buffer, and become
/// durable at ``sync()``: write(2), fdatasync, and only then does ``durablePosition`` move. An
/// event counts as relayed only once it is durable; acknowledge (semi-sync) the position `sync`
/// returns, never an appended one.
///
/// **Threading.** A plain, non-Sendable class for one thread. Its calls block in system calls
/// (write, fdatasync, ftruncate, rename): run it on a thread of its own or a thread pool, never
/// on Swift's cooperative pool. The service layer wraps it.
///
/// **Group commit.** ``append(_:)`` says when a sync is due (``RelayLogConfiguration/syncInterval``,
/// ``RelayLogConfiguration/maxUnsyncedBytes``); call ``sync()`` then, and whenever the stream goes
/// idle with ``hasUnsyncedData``. Several transactions appended between two syncs share one fsync.
///
/// **Crash safety.** Segments only grow by whole events; the log may be cut only after a
/// complete transaction. On start, recovery (in `init`) scans the last segment, truncates a torn
/// tail back to the last complete transaction and reports in ``recovered`` where the source must
/// resume: no gap and no duplicate, whenever the process died. See docs/relay-log.md.
///
/// **Disk full.** A write that fails for lack of space truncates the partial write away and
/// stalls the writer: every later call throws the same ``RelayLogError/Code/diskFull`` error, and
/// what was durable stays durable. Restart (recovery) once space is free.
///
/// Dropping the writer without ``close()`` loses what was not synced, like a crash (tests use
/// that); it never writes on deinit.
public final class RelayLogWriter {
    public let configuration: RelayLogConfiguration

    /// Where the source must resume after recovery: the end of the last complete transaction found
    /// on disk (now durable). Nil when the log was empty.
    public internal(set) var recovered: RelayLogPosition?
    /// What recovery found and did.
    public internal(set) var recoveryReport = RecoveryReport()
    /// The end of the last complete transaction that is durable (fsynced).
    public internal(set) var durablePosition: RelayLogPosition?
    /// The segments, oldest first (the last one is being written).
    public internal(set) var segments: [SegmentInfo] = []
    /// Set after a failed write or fsync: every later call throws it.
    public internal(set) var stalledError: RelayLogError?

    let directory: FilePath
    let directoryDescriptor: FileDescriptor
    let lockDescriptor: FileDescriptor

    /// The segment being written.
    var current: OpenSegment?
    var buffer: UnsafeMutableRawBufferPointer
    var buffered = 0
    var decoder = BinlogDecoder()
    var state = StreamState()
    /// The end of the last complete transaction appended.
    var committed: CommitPoint?
    /// Bytes appended since the last sync (group-commit accounting).
    var unsyncedBytes = 0
    /// A segment file was created or deleted since the directory was last fsynced.
    var directoryDirty = false
    var lastSync = ContinuousClock.now
    var lastStateWrite: ContinuousClock.Instant?
    var lastRetention = ContinuousClock.now
    var applied: RelayLogLocation?
    var isClosed = false
    var filesClosed = false

    /// Test hook: called with the byte count before each write(2); an error it returns is treated
    /// as the system call's failure. Lets tests inject ENOSPC without a full file system.
    var writeFaultInjector: ((Int) -> Errno?)?

    struct OpenSegment {
        var number: Int
        var descriptor: FileDescriptor
        var path: FilePath
        /// Bytes in the file (written with write(2)).
        var written: Int64
        /// Bytes were written since the last fdatasync.
        var needsSync: Bool
    }

    /// The state at the end of a complete transaction (the GTID state is `state.gtid`: it changes
    /// only at transaction ends).
    struct CommitPoint {
        var location: RelayLogLocation
        var source: SourcePosition
        var timestamp: UInt32
        var commitMicroseconds: UInt64?
        var formatBytes: [UInt8]
        var format: FormatDescription
    }

    /// What one ``append(_:)`` did.
    public struct AppendResult: Sendable, Equatable {
        /// The event went into the log (heartbeats and the source's artificial events do not).
        public var written: Bool
        /// The event ended a transaction (or stood between transactions): the log may be cut after it.
        public var endsTransaction: Bool
        /// Call ``RelayLogWriter/sync()`` now (group-commit interval or size reached).
        public var syncDue: Bool
    }

    /// What one ``sync()`` did, with the time each step took (for `binlog_relay_log_fsync_seconds`).
    public struct SyncReport: Sendable {
        /// The durable position after the sync (nil while the log holds no transaction).
        public var position: RelayLogPosition?
        /// Bytes handed to write(2) by this sync.
        public var bytesWritten: Int
        /// Bytes made durable by this sync (appended since the previous one).
        public var bytesSynced: Int
        public var writeDuration: Duration
        /// fdatasync of the segment, plus fsync of the directory when a segment was created.
        public var fsyncDuration: Duration
        /// Rewriting the state file (zero when it was not due).
        public var stateFileDuration: Duration
        /// Segments deleted by retention during this sync.
        public var purged: [String]
    }

    // MARK: - Opening

    /// Opens (creating if needed) the log in `configuration.directory`, takes its lock and recovers:
    /// see ``recovered`` and ``recoveryReport``.
    public init(configuration: RelayLogConfiguration) throws(RelayLogError) {
        self.configuration = configuration
        directory = configuration.directory
        try FileSystem.createDirectories(directory)
        let directoryDescriptor: FileDescriptor
        do {
            directoryDescriptor = try FileDescriptor.open(directory, .readOnly, options: [.directory])
        } catch {
            throw .system(error as? Errno ?? .ioError, "cannot open the log directory", path: directory)
        }
        let lockPath = directory.appending("relay.lock")
        let lockDescriptor: FileDescriptor
        do {
            lockDescriptor = try FileDescriptor.open(
                lockPath, .readWrite, options: [.create], permissions: [.ownerReadWrite, .groupRead])
        } catch {
            try? directoryDescriptor.close()
            throw .system(error as? Errno ?? .ioError, "cannot open the lock file", path: lockPath)
        }
        let locked: Bool
        do throws(Errno) {
            locked = try lockDescriptor.tryLockExclusive()
        } catch {
            try? lockDescriptor.close()
            try? directoryDescriptor.close()
            throw .system(error, "cannot lock the log directory", path: lockPath)
        }
        guard locked else {
            try? lockDescriptor.close()
            try? directoryDescriptor.close()
            throw RelayLogError(
                .locked, "another process (or another writer in this one) has the relay log open",
                path: directory.string)
        }
        self.directoryDescriptor = directoryDescriptor
        self.lockDescriptor = lockDescriptor
        buffer = .allocate(byteCount: max(configuration.writeBufferSize, 4096), alignment: 16)
        try recover()
    }

    deinit {
        // No flush: dropping the writer is a crash as far as unsynced data goes.
        closeFiles()
        buffer.deallocate()
    }

    /// Closes the segment, the directory and the lock (releasing the log for another writer).
    func closeFiles() {
        if let current { try? current.descriptor.close() }
        current = nil
        if !filesClosed {
            try? lockDescriptor.close()
            try? directoryDescriptor.close()
            filesClosed = true
        }
    }

    // MARK: - Positions

    /// The end of the last complete transaction appended (durable or not).
    public var appendedPosition: RelayLogPosition? {
        committed.map(position(at:))
    }

    /// Whether appended data waits for a sync.
    public var hasUnsyncedData: Bool { unsyncedBytes > 0 || buffered > 0 }

    /// Bytes appended since the last sync.
    public var unsyncedByteCount: Int { unsyncedBytes }

    /// The writer stopped accepting events after a failure.
    public var isStalled: Bool { stalledError != nil }

    func position(at point: CommitPoint) -> RelayLogPosition {
        RelayLogPosition(
            location: point.location, source: point.source, gtidState: state.gtid, formatDescription: point.formatBytes,
            timestamp: point.timestamp, commitTimestampMicroseconds: point.commitMicroseconds)
    }

    /// Bytes in the current segment, written and buffered.
    var logicalSize: Int64 { (current?.written ?? 0) + Int64(buffered) }

    // MARK: - Stream

    /// Sets where the stream starts and the GTID state before it, on a log that holds nothing yet
    /// (the first segment records both). A stream's fake ROTATE also names the start file; use this
    /// when the start is known otherwise, or to seed the GTID set a GTID-based dump starts from.
    public func seed(source: SourcePosition?, gtidState: GTIDState?) throws(RelayLogError) {
        try checkUsable()
        guard current == nil else {
            throw RelayLogError(.misuse, "seed(source:gtidState:) is only for a log that holds nothing yet")
        }
        if let source { state.source = source }
        if let gtidState { state.gtid = gtidState }
    }

    /// Prepares for a new dump connection: cuts off an incomplete transaction at the tail (in
    /// memory or already written) and returns where the source must resume (the end of the last
    /// complete transaction appended; nil while the log holds none).
    @discardableResult
    public func restartStream() throws(RelayLogError) -> RelayLogPosition? {
        try checkUsable()
        defer { state.abandonTransaction() }
        guard let current, let committed else { return nil }
        let cut = committed.location.offset
        if cut >= current.written {
            buffered = Int(cut - current.written)
        } else {
            try truncateCurrent(to: cut)
            buffered = 0
        }
        restore(committed)
        return position(at: committed)
    }

    func restore(_ point: CommitPoint) {
        state.source = point.source
        state.timestamp = point.timestamp
        state.commitMicroseconds = point.commitMicroseconds
        state.formatBytes = point.formatBytes
        state.format = point.format
        decoder.use(point.format)
    }

    /// Appends one event as received from the source: header, body and checksum, unchanged.
    ///
    /// The writer decodes it (CRC32 verified) to follow transactions, source positions and GTIDs.
    /// Heartbeats are not written; the source's artificial events (fake ROTATE, the
    /// FORMAT_DESCRIPTION re-sent on connect) are written only where they change something: a
    /// ROTATE to another position is recorded as a relay-made ROTATE, a FORMAT_DESCRIPTION of
    /// another format as received.
    ///
    /// - Parameter event: one whole event; the bytes are copied before this returns.
    /// - Throws: ``RelayLogError/Code/badEvent`` when the event is damaged (nothing of it is
    ///   written; reconnect after ``restartStream()``), ``RelayLogError/Code/misuse`` for an event
    ///   out of order (anything before the first FORMAT_DESCRIPTION, a fake ROTATE inside a transaction), ``RelayLogError/Code/diskFull`` and `io` when the
    ///   log cannot be written (stalled).
    @discardableResult
    public func append(_ event: UnsafeRawBufferPointer) throws(RelayLogError) -> AppendResult {
        try checkUsable()
        let header: EventHeader
        do {
            header = try EventHeader(decoding: event)
        } catch {
            throw RelayLogError(.badEvent, "the event is shorter than its header", decodeError: error)
        }
        guard Int(header.eventSize) == event.count else {
            throw RelayLogError(
                .badEvent, "the event's size field says \(header.eventSize) bytes, \(event.count) were given")
        }
        let type = header.type
        if type == .heartbeat || type == .heartbeatV2 {
            return AppendResult(written: false, endsTransaction: false, syncDue: false)
        }
        if Segment.relayMade(header) != nil {
            throw RelayLogError(
                .badEvent, "a \(type) with LOG_EVENT_RELAY_LOG_F is a relay log's own event, not a source's")
        }
        // Made up by the source for this connection, not events of its binlog: flagged, or (for the
        // kinds a dump makes up: fake ROTATE, re-sent FORMAT_DESCRIPTION, MariaDB's GTID_LIST on a GTID
        // connect) without a position.
        let artificial =
            header.flags & EventHeader.artificialFlag != 0
            || (header.logPosition == 0
                && (type == .rotate || type == .formatDescription || type == .mariadbGTIDList
                    || type == .previousGTIDs))
        if type == .rotate && state.formatBytes.isEmpty {
            // Before the first FORMAT_DESCRIPTION the checksum algorithm is unknown: the fake
            // ROTATE that opens a stream carries a CRC32 when the replica asked for checksums.
            state.source = Self.sourceOfEarlyRotate(event)
            return AppendResult(written: false, endsTransaction: false, syncDue: false)
        }
        // Roll over before decoding: the next segment's first events follow the format in force.
        if !artificial, current != nil, state.isAtBoundary, logicalSize >= configuration.segmentSizeLimit {
            try rollOver()
        }
        let decoded: BinlogEvent
        do {
            decoded = try decoder.decode(event, at: Int(logicalSize))
        } catch {
            throw RelayLogError(.badEvent, "the event cannot be decoded", decodeError: error)
        }
        if artificial {
            return try appendArtificial(decoded)
        }
        guard current != nil else {
            guard type == .formatDescription else {
                throw RelayLogError(
                    .misuse, "the stream must begin with a FORMAT_DESCRIPTION before any other event (got \(type))")
            }
            try createSegment(number: (segments.last?.number ?? 0) + 1, firstFormatDescription: decoded)
            return AppendResult(written: true, endsTransaction: true, syncDue: syncDue(endsTransaction: true))
        }
        let ends = try write(decoded)
        return AppendResult(written: true, endsTransaction: ends, syncDue: syncDue(endsTransaction: ends))
    }

    private func appendArtificial(_ event: BinlogEvent) throws(RelayLogError) -> AppendResult {
        switch event.payload {
        case .formatDescription(let description):
            guard current != nil else {
                try createSegment(number: (segments.last?.number ?? 0) + 1, firstFormatDescription: event)
                return AppendResult(written: true, endsTransaction: true, syncDue: syncDue(endsTransaction: true))
            }
            if Self.sameFormat(description, state.format) {
                return AppendResult(written: false, endsTransaction: false, syncDue: false)
            }
            let ends = try write(event)
            return AppendResult(written: true, endsTransaction: ends, syncDue: syncDue(endsTransaction: ends))
        case .rotate(let rotate):
            let target = SourcePosition(file: rotate.fileNameString, position: rotate.position)
            guard current != nil else {
                state.source = target
                return AppendResult(written: false, endsTransaction: false, syncDue: false)
            }
            guard state.isAtBoundary else {
                throw RelayLogError(
                    .misuse,
                    "a fake ROTATE (to \(target)) arrived inside a transaction: call restartStream() before a new dump")
            }
            if target == state.source {
                return AppendResult(written: false, endsTransaction: false, syncDue: false)
            }
            let ends = try writeRelayMade(sourceRotateTo: target)
            return AppendResult(written: true, endsTransaction: ends, syncDue: syncDue(endsTransaction: ends))
        default:
            return AppendResult(written: false, endsTransaction: false, syncDue: false)
        }
    }

    static func sameFormat(_ lhs: FormatDescription, _ rhs: FormatDescription) -> Bool {
        lhs.serverVersion == rhs.serverVersion && lhs.headerLength == rhs.headerLength
            && lhs.postHeaderLengths == rhs.postHeaderLengths && lhs.checksumAlgorithm == rhs.checksumAlgorithm
    }

    /// File and position of a ROTATE that came before any FORMAT_DESCRIPTION: the last four bytes
    /// are a CRC32 (and not part of the name) when they match the rest.
    static func sourceOfEarlyRotate(_ event: UnsafeRawBufferPointer) -> SourcePosition {
        var end = event.count
        if event.count >= EventHeader.length + 8 + 4 {
            let stored = UInt32(event.loadLittleEndian(at: event.count - 4, width: 4))
            if crc32(UnsafeRawBufferPointer(rebasing: event[0..<(event.count - 4)])) == stored { end -= 4 }
        }
        guard end >= EventHeader.length + 8 else { return SourcePosition(file: "", position: 4) }
        let position = event.loadLittleEndian(at: EventHeader.length, width: 8)
        let name = UnsafeRawBufferPointer(rebasing: event[(EventHeader.length + 8)..<end])
        return SourcePosition(file: String(decoding: name, as: UTF8.self), position: position)
    }

    private func syncDue(endsTransaction: Bool) -> Bool {
        if unsyncedBytes >= configuration.maxUnsyncedBytes { return true }
        guard endsTransaction else { return false }
        return configuration.syncInterval == .zero || lastSync.duration(to: .now) >= configuration.syncInterval
    }

    // MARK: - Writing

    /// Writes a decoded event's bytes and follows it; records a commit point when it ends a transaction.
    func write(_ event: BinlogEvent) throws(RelayLogError) -> Bool {
        try put(event.bytes)
        let ends = state.consume(event)
        if ends { commit() }
        return ends
    }

    /// Builds, writes and follows a relay-made event.
    func writeRelayMade(type: EventType, body: [UInt8], flags: UInt16) throws(RelayLogError) -> Bool {
        let serverID =
            state.formatBytes.count >= 9
            ? UInt32(state.formatBytes.withUnsafeBytes { $0.loadLittleEndian(at: 5, width: 4) }) : 0
        let size = EventHeader.length + body.count + state.format.checksumAlgorithm.trailerLength
        let bytes = Segment.event(
            type: type, body: body, timestamp: state.timestamp, serverID: serverID,
            endOffset: logicalSize + Int64(size), flags: Segment.relayLogFlag | flags,
            checksum: state.format.checksumAlgorithm)
        return try withBytes(of: bytes) { (raw) throws(RelayLogError) -> Bool in
            let decoded: BinlogEvent
            do throws(BinlogError) {
                decoded = try decoder.decode(raw, at: Int(logicalSize))
            } catch {
                throw RelayLogError(.misuse, "a relay-made \(type) does not decode", decodeError: error)
            }
            return try write(decoded)
        }
    }

    func writeRelayMade(sourceRotateTo source: SourcePosition) throws(RelayLogError) -> Bool {
        try writeRelayMade(
            type: .rotate, body: Segment.rotateBody(fileName: source.file, position: source.position),
            flags: Segment.artificialFlag)
    }

    func commit() {
        guard let current else { return }
        committed = CommitPoint(
            location: RelayLogLocation(segment: current.number, offset: logicalSize), source: state.source,
            timestamp: state.timestamp, commitMicroseconds: state.commitMicroseconds, formatBytes: state.formatBytes,
            format: state.format)
    }

    /// Copies bytes into the write buffer (writing the buffer out first when they do not fit).
    func put(_ bytes: UnsafeRawBufferPointer) throws(RelayLogError) {
        if buffered + bytes.count > buffer.count { try flushBuffer() }
        if bytes.count > buffer.count {
            try writeOut(bytes)
        } else {
            UnsafeMutableRawBufferPointer(rebasing: buffer[buffered..<(buffered + bytes.count)]).copyMemory(from: bytes)
            buffered += bytes.count
        }
        unsyncedBytes += bytes.count
    }

    func put(_ bytes: [UInt8]) throws(RelayLogError) {
        try withBytes(of: bytes) { (raw) throws(RelayLogError) in try put(raw) }
    }

    /// write(2)s the buffer at the end of the segment.
    func flushBuffer() throws(RelayLogError) {
        guard buffered > 0 else { return }
        try writeOut(UnsafeRawBufferPointer(rebasing: buffer[0..<buffered]))
        buffered = 0
    }

    /// Writes bytes at the end of the current segment. On failure the partial write is truncated
    /// away and the writer stalls.
    private func writeOut(_ bytes: UnsafeRawBufferPointer) throws(RelayLogError) {
        guard var segment = current else { return }
        do throws(Errno) {
            if let error = writeFaultInjector?(bytes.count) { throw error }
            do {
                try segment.descriptor.writeAll(toAbsoluteOffset: segment.written, bytes)
            } catch {
                throw error as? Errno ?? .ioError
            }
        } catch {
            // Keep the file ending on a whole event: cut what part of this write landed.
            _ = try? segment.descriptor.resize(to: segment.written)
            throw stall(.system(error, "cannot write \(bytes.count) bytes to the segment", path: segment.path))
        }
        segment.written += Int64(bytes.count)
        segment.needsSync = true
        current = segment
    }

    /// Cuts the current segment to `size` bytes (durably).
    func truncateCurrent(to size: Int64) throws(RelayLogError) {
        guard var segment = current else { return }
        do throws(Errno) {
            do {
                try segment.descriptor.resize(to: size)
            } catch {
                throw error as? Errno ?? .ioError
            }
            try segment.descriptor.dataSync()
        } catch {
            throw stall(.system(error, "cannot truncate the segment to \(size) bytes", path: segment.path))
        }
        segment.written = size
        segment.needsSync = false
        current = segment
    }

    func stall(_ error: RelayLogError) -> RelayLogError {
        if stalledError == nil { stalledError = error }
        return error
    }

    func checkUsable() throws(RelayLogError) {
        if let stalledError { throw stalledError }
        if isClosed { throw RelayLogError(.misuse, "the relay log writer is closed") }
    }

    // MARK: - Segments

    /// Creates segment `number` and writes its prologue. `firstFormatDescription` is the stream's
    /// FORMAT_DESCRIPTION when this is the first segment (it becomes the prologue's); otherwise the
    /// format in force is repeated.
    func createSegment(number: Int, firstFormatDescription: BinlogEvent?) throws(RelayLogError) {
        let path = directory.appending(Segment.fileName(number))
        let descriptor: FileDescriptor
        do {
            descriptor = try FileDescriptor.open(
                path, .readWrite, options: [.create, .exclusiveCreate],
                permissions: [.ownerReadWrite, .groupRead])
        } catch {
            throw stall(.system(error as? Errno ?? .ioError, "cannot create the segment", path: path))
        }
        directoryDirty = true
        current = OpenSegment(number: number, descriptor: descriptor, path: path, written: 0, needsSync: true)
        var source = state.source
        try put(Segment.magic)
        if let firstFormatDescription {
            // The stream's own FORMAT_DESCRIPTION: a real one (log_pos set) moves the position past it.
            _ = try write(firstFormatDescription)
            source = state.source
        } else {
            // A copy of the format in force: its log_pos is stale, the ROTATE below states the position.
            let formatBytes = Segment.formatCopy(state.formatBytes, checksum: state.format.checksumAlgorithm)
            try withBytes(of: formatBytes) { (raw) throws(RelayLogError) in
                let decoded: BinlogEvent
                do throws(BinlogError) {
                    decoded = try decoder.decode(raw, at: Int(logicalSize))
                } catch {
                    throw RelayLogError(.misuse, "the FORMAT_DESCRIPTION in force does not decode", decodeError: error)
                }
                _ = try write(decoded)
            }
        }
        switch Segment.gtidStateEventType(for: state.format) {
        case .previousGTIDs?:
            _ = try writeRelayMade(type: .previousGTIDs, body: state.gtid.previousGTIDsBody(), flags: 0)
        case .mariadbGTIDList?:
            _ = try writeRelayMade(type: .mariadbGTIDList, body: state.gtid.gtidListBody(), flags: 0)
        default:
            break
        }
        _ = try writeRelayMade(sourceRotateTo: source)
        commit()
        segments.append(
            SegmentInfo(
                number: number, source: source, gtidState: state.gtid, size: 0, modified: wallClockSeconds()))
    }

    /// Closes the current segment with a ROTATE naming the next, makes it durable, and begins the next.
    func rollOver() throws(RelayLogError) {
        guard let segment = current else { return }
        let next = segment.number + 1
        let serverID =
            state.formatBytes.count >= 9
            ? UInt32(state.formatBytes.withUnsafeBytes { $0.loadLittleEndian(at: 5, width: 4) }) : 0
        let body = Segment.rotateBody(fileName: Segment.fileName(next), position: 4)
        let size = EventHeader.length + body.count + state.format.checksumAlgorithm.trailerLength
        let rotate = Segment.event(
            type: .rotate, body: body, timestamp: state.timestamp, serverID: serverID,
            endOffset: logicalSize + Int64(size), flags: Segment.relayLogFlag, checksum: state.format.checksumAlgorithm)
        try put(rotate)
        try flushBuffer()
        do throws(Errno) {
            try segment.descriptor.dataSync()
        } catch {
            throw stall(.system(error, "cannot fsync the segment", path: segment.path))
        }
        if let index = segments.lastIndex(where: { $0.number == segment.number }) {
            segments[index].size = current?.written ?? 0
            segments[index].modified = wallClockSeconds()
        }
        try? segment.descriptor.close()
        current = nil
        try createSegment(number: next, firstFormatDescription: nil)
    }

    // MARK: - Durability

    /// Makes everything appended durable: write(2) of the buffer, fdatasync of the segment, fsync
    /// of the directory when a segment was created; then moves ``durablePosition`` to the last
    /// complete transaction, rewrites the state file when due and runs retention when due.
    ///
    /// May be called at any time, also in the middle of a transaction (to bound the data waiting
    /// for the disk): the durable position never moves past the last complete transaction.
    @discardableResult
    public func sync() throws(RelayLogError) -> SyncReport {
        try checkUsable()
        let clock = ContinuousClock()
        let start = clock.now
        let bytesWritten = buffered
        let bytesSynced = unsyncedBytes
        try flushBuffer()
        let written = clock.now
        if var segment = current, segment.needsSync {
            do throws(Errno) {
                try segment.descriptor.dataSync()
            } catch {
                throw stall(.system(error, "cannot fdatasync the segment", path: segment.path))
            }
            segment.needsSync = false
            current = segment
        }
        if directoryDirty {
            do throws(Errno) {
                try directoryDescriptor.fullSync()
            } catch {
                throw stall(.system(error, "cannot fsync the log directory", path: directory))
            }
            directoryDirty = false
        }
        let synced = clock.now
        unsyncedBytes = 0
        lastSync = synced
        if let committed { durablePosition = position(at: committed) }
        var stateDuration = Duration.zero
        if let lastStateWrite, lastStateWrite.duration(to: synced) < configuration.stateFileInterval {
            // not due
        } else if durablePosition != nil {
            try writeStateFile()
            stateDuration = synced.duration(to: clock.now)
        }
        var purged: [String] = []
        if lastRetention.duration(to: synced) >= configuration.retentionCheckInterval {
            lastRetention = synced
            purged = try purge(appliedUpTo: applied)
        }
        if let current, let index = segments.lastIndex(where: { $0.number == current.number }) {
            segments[index].size = current.written
        }
        return SyncReport(
            position: durablePosition, bytesWritten: bytesWritten, bytesSynced: bytesSynced,
            writeDuration: start.duration(to: written), fsyncDuration: written.duration(to: synced),
            stateFileDuration: stateDuration, purged: purged)
    }

    func writeStateFile() throws(RelayLogError) {
        guard let durablePosition else { return }
        do {
            try RelayLogState(position: durablePosition, written: wallClockSeconds())
                .write(directory: directory, directoryDescriptor: directoryDescriptor)
        } catch {
            throw stall(error)
        }
        lastStateWrite = .now
    }

    /// Syncs, writes the state file and closes the files. The writer cannot be used afterwards.
    public func close() throws(RelayLogError) {
        guard !isClosed else { return }
        if stalledError == nil {
            try sync()
            try writeStateFile()
        }
        isClosed = true
        closeFiles()
    }
}
