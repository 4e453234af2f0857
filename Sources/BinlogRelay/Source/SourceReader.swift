import Applier
import BinlogFormat
import Logging
import MySQLClient
import RelayLog

#if canImport(Glibc)
import Glibc
#endif

/// Streams the source's binlog into the local log: connect, check, dump, append, fsync at
/// transaction ends (group commit), acknowledge semi-sync transactions only once durable, and
/// reconnect with backoff from the last durable transaction boundary after any failure.
///
/// Runs on a thread of its own (every call blocks); `stop()` may be called from any thread.
final class SourceReader: @unchecked Sendable {
    struct Settings: Sendable {
        var source: MySQLConnectionConfiguration
        var serverID: UInt32
        var heartbeatSeconds: Double = 1
        var semiSync = false
        /// How often the source's semi-sync state is polled (with `semiSync`), in seconds.
        var semiSyncPollSeconds: Double = 2
        /// Group commit while the source streams a backlog: a transaction end whose next packet
        /// has already arrived may wait this long for its fsync (zero: fsync every transaction end).
        var maxSyncDelay: Duration = .milliseconds(50)
        /// Where to start when the log is empty.
        var start: StartPoint = .current
        /// Stop when the source has nothing more (non-blocking dump); used by tests and one-shot copies.
        var exitWhenCaughtUp = false
        var maxBackoffSeconds: Double = 30
    }

    enum StartPoint: Sendable, Equatable {
        /// The source's current end of binlog.
        case current
        /// The oldest binlog the source still has.
        case earliest
        case file(String, UInt64)
        case gtid(String)
        /// Where `binlog-relay seed` left the target: its snapshot's file:pos and GTIDs (docs/seed.md).
        case seeded(SourcePosition, GTIDState)

        init?(_ text: String) {
            switch text.lowercased() {
            case "current": self = .current
            case "earliest": self = .earliest
            default:
                // FILE:POS, unless the part before the colon is a MySQL server UUID (uuid:5 is a GTID set).
                if let colon = text.lastIndex(of: ":"), let position = UInt64(text[text.index(after: colon)...]),
                    UUID16(text[..<colon]) == nil, !text[..<colon].contains(":")
                {
                    self = .file(String(text[..<colon]), position)
                } else if GTIDState(parsing: text) != nil {
                    self = .gtid(text)
                } else {
                    return nil
                }
            }
        }
    }

    /// A failure that reconnecting cannot cure.
    struct FatalError: Error, CustomStringConvertible {
        var description: String
    }

    let settings: Settings
    let log: RelayLogWriter
    let logger: Logger
    private let stopFlag = AtomicFlag()
    private var connection: MySQLConnection?
    private var lastSync = ContinuousClock.now
    let status: SourceStatus
    /// Polls the source's semi-sync state (with `--semi-sync` only).
    private let semiSyncMonitor: SemiSyncMonitor?
    /// Where the applier may read to: moved after every fsync (with a target).
    let frontier: LogFrontier?
    /// The applier's committed checkpoint, for retention (with a target).
    let appliedLocation: (@Sendable () -> RelayLogLocation?)?

    init(
        settings: Settings, log: RelayLogWriter, logger: Logger, frontier: LogFrontier? = nil,
        appliedLocation: (@Sendable () -> RelayLogLocation?)? = nil,
        fsyncObserver: (@Sendable (Duration) -> Void)? = nil
    ) {
        self.settings = settings
        self.log = log
        self.logger = logger
        self.frontier = frontier
        self.appliedLocation = appliedLocation
        if let durable = log.durablePosition { frontier?.advance(to: durable.location) }
        status = SourceStatus(semiSyncRequested: settings.semiSync, fsyncObserver: fsyncObserver)
        status.recovered(log.durablePosition)
        status.noteSegments(log.segments)
        semiSyncMonitor =
            settings.semiSync
            ? SemiSyncMonitor(source: settings.source, interval: settings.semiSyncPollSeconds, status: status, logger: logger)
            : nil
    }

    func stop() { stopFlag.set() }
    var isStopping: Bool { stopFlag.isSet }

    /// Runs until stopped (returns) or a fatal error (throws).
    func run() throws {
        var backoff = 0.25
        defer { finish() }
        semiSyncMonitor?.start()
        while !isStopping {
            do {
                try streamOnce()
                if settings.exitWhenCaughtUp || isStopping { return }
                backoff = 0.25
            } catch let error as SourcePreflight.Refusal {
                throw FatalError(description: error.description)
            } catch let error as MySQLError where !error.isTransient && error.code != .server {
                throw FatalError(description: error.description)
            } catch let error as MySQLError where error.code == .server && error.number == 1236 {
                throw FatalError(description: "the source cannot serve the requested position: \(error.message)")
            } catch let error as RelayLogError where error.code != .badEvent {
                throw FatalError(description: "local log: \(error)")
            } catch {
                status.connectionLost()
                logger.warning(
                    "source connection lost; reconnecting",
                    metadata: ["error": "\(error)", "retry_in_s": "\(backoff)", "durable": "\(log.durablePosition?.description ?? "none")"])
                connection?.close()
                connection = nil
                sleepInterruptibly(seconds: backoff)
                backoff = min(backoff * 2, settings.maxBackoffSeconds)
            }
        }
    }

    /// Connects, checks, starts the dump at the last complete transaction and streams until an
    /// error, a stop, or (non-blocking) the end of the binlog.
    private func streamOnce() throws {
        var source = settings.source
        // A few heartbeat periods without a packet means the link is dead, not the source idle.
        source.readTimeoutSeconds = max(3, Int((settings.heartbeatSeconds * 3).rounded(.up)))
        let connection = try MySQLConnection(configuration: source)
        self.connection = connection
        let facts = try SourcePreflight.check(connection)
        for warning in SourcePreflight.warnings(facts) { logger.warning("\(warning)") }
        if let semiSyncMonitor {
            // The state before the dump starts, so a source that fell back while the relay was
            // away is reported as such before this relay's ACKs switch it back on.
            if let probe = try? SemiSyncProbe.read(connection) { semiSyncMonitor.report(probe) }
        }

        // Lag is measured on the source's clock: how far this machine's clock is off, measured now
        // (before the dump takes the connection over), is taken out.
        let clockOffset = ClockOffset.measure(connection)
        if let clockOffset, abs(clockOffset.offset) > 1 {
            logger.notice(
                "the source's clock differs from this machine's; lag is corrected for it",
                metadata: ["offset_s": "\(clockOffset.offset)", "uncertainty_s": "\(clockOffset.uncertainty)"])
        }
        let resume = try log.restartStream() ?? log.recovered
        let start = try startPoint(resume: resume, facts: facts)
        if let resume, resume.source.file == facts.currentFile, resume.source.position == facts.currentPosition {
            // The log ends where the source's binlog ends: caught up as of now (lag 0 from the
            // start, not the age of the last transaction until the first heartbeat).
            status.heartbeat(everythingDurable: !log.hasUnsyncedData)
        }
        logger.info(
            "streaming from source",
            metadata: [
                "source": "\(source.endpoint)", "server": "\(facts.serverVersion)", "start": "\(start)",
                "tls": "\(connection.tlsCipher ?? "off")",
            ])
        let stream = try BinlogStream(
            connection: connection,
            options: .init(
                serverID: settings.serverID, heartbeatPeriodSeconds: settings.heartbeatSeconds,
                nonBlocking: settings.exitWhenCaughtUp, semiSync: settings.semiSync),
            start: start)
        status.connected(
            semiSync: stream.semiSyncActive, sourceSemiSync: facts.semiSyncSourceEnabled, version: facts.serverVersion,
            isMariaDB: facts.isMariaDB, clock: clockOffset)
        if settings.semiSync && !stream.semiSyncActive {
            logger.warning("--semi-sync: the source has no semi-sync (no rpl_semi_sync_master_enabled variable); streaming asynchronously")
        }
        var pendingAck = false
        while !isStopping {
            let packet = try stream.next()
            guard case .event(let bytes, let ackRequested) = packet else {
                // Non-blocking dump: everything the source has is here.
                try syncAndAcknowledge(stream, ack: pendingAck)
                return
            }
            let result = try log.append(bytes)
            status.received(bytes, endsTransaction: result.endsTransaction)
            if ackRequested { pendingAck = true }
            if result.endsTransaction {
                // A semi-sync source waits for this transaction: at once. Otherwise when the group
                // commit says so, unless more of the stream is already here (see mayDeferSync).
                if pendingAck || (result.syncDue && !mayDeferSync(stream)) {
                    try syncAndAcknowledge(stream, ack: pendingAck)
                    pendingAck = false
                }
            } else if result.syncDue {
                // maxUnsyncedBytes inside a large transaction: the transactions before it become durable.
                try syncAndAcknowledge(stream, ack: false)
            } else if bytes.count > 4
                && (bytes[4] == EventType.heartbeat.rawValue || bytes[4] == EventType.heartbeatV2.rawValue)
            {
                // Idle source: make what is buffered durable and note that the stream is caught up.
                if log.hasUnsyncedData && log.appendedPosition != nil { try syncAndAcknowledge(stream, ack: false) }
                status.heartbeat(everythingDurable: !log.hasUnsyncedData)
            }
        }
        try syncAndAcknowledge(stream, ack: pendingAck)
    }

    /// Whether a transaction end may leave its fsync to a later one: only while the next packet
    /// has already arrived (the source is streaming a backlog, so the fsync would only hold the
    /// stream up), and for at most `maxSyncDelay` and the log's `maxUnsyncedBytes`. A stream that
    /// has nothing more waiting (a live source between commits) is fsynced at every transaction
    /// end, as before. Catching up, one fsync covers megabytes instead of one transaction.
    private func mayDeferSync(_ stream: BinlogStream) -> Bool {
        guard settings.maxSyncDelay > .zero, log.unsyncedByteCount < log.configuration.maxUnsyncedBytes else {
            return false
        }
        guard lastSync.duration(to: .now) < settings.maxSyncDelay else { return false }
        return stream.hasPendingInput
    }

    /// Makes what was appended durable, then (and only then) acknowledges the durable position
    /// to a semi-sync source. One ACK covers every transaction up to its position.
    private func syncAndAcknowledge(_ stream: BinlogStream, ack: Bool) throws {
        if log.hasUnsyncedData {
            // Retention keeps every segment the target has not applied (only what is committed
            // there counts: a checkpoint not yet written could still be resumed from).
            if let applied = appliedLocation?() { log.noteApplied(applied) }
            let report = try log.sync()
            lastSync = .now
            status.synced(report, everything: !log.hasUnsyncedData)
            status.noteSegments(log.segments)
            if let position = report.position { frontier?.advance(to: position.location) }
            if logger.logLevel <= .trace {
                logger.trace(
                    "fsynced",
                    metadata: [
                        "durable": "\(report.position?.description ?? "none")", "bytes": "\(report.bytesSynced)",
                        "fsync_ms": "\(report.fsyncDuration.millisecondsText)",
                    ])
            }
        }
        // The durable position, never the appended one: what the source hears is on disk.
        guard ack, let durable = log.durablePosition else { return }
        try stream.acknowledge(file: durable.source.file, position: durable.source.position)
        status.acknowledged(durable.source)
        if logger.logLevel <= .trace {
            logger.trace("semi-sync ACK sent", metadata: ["acknowledged": "\(durable.source)", "durable": "\(durable.location)"])
        }
    }

    private func startPoint(resume: RelayLogPosition?, facts: SourcePreflight.Facts) throws -> BinlogStream.Start {
        if let resume {
            // Resume exactly where the log ends. By file and position while the source still has
            // that file: a GTID start makes the server re-send the file's header events (FORMAT_DESCRIPTION,
            // GTID_LIST) with their real positions, which would repeat in the log. By GTID when the
            // file is gone from this source (after a failover to another server with the same GTIDs).
            if resume.source.file.isEmpty || !facts.binlogFiles.contains(resume.source.file) {
                let state = resume.gtidState
                if facts.isMariaDB && state.isMariaDB { return .mariadbGTID(state.description) }
                if !facts.isMariaDB && !state.isEmpty && !state.isMariaDB { return .mysqlGTID(encodedSet: state.mysqlEncoded) }
            }
            try SourcePreflight.checkPositionAvailable(file: resume.source.file, facts: facts)
            return .filePosition(file: resume.source.file, position: resume.source.position)
        }
        switch settings.start {
        case .current:
            try log.seed(source: SourcePosition(file: facts.currentFile, position: facts.currentPosition),
                         gtidState: GTIDState(parsing: facts.currentGTID))
            return .filePosition(file: facts.currentFile, position: facts.currentPosition)
        case .earliest:
            guard let first = facts.binlogFiles.first else { throw FatalError(description: "the source lists no binlog files") }
            try log.seed(source: SourcePosition(file: first, position: 4), gtidState: nil)
            return .filePosition(file: first, position: 4)
        case .file(let file, let position):
            try SourcePreflight.checkPositionAvailable(file: file, facts: facts)
            try log.seed(source: SourcePosition(file: file, position: position), gtidState: nil)
            return .filePosition(file: file, position: position)
        case .seeded(let position, let state):
            try SourcePreflight.checkPositionAvailable(file: position.file, facts: facts)
            try log.seed(source: position, gtidState: state.isEmpty ? nil : state)
            return .filePosition(file: position.file, position: position.position)
        case .gtid(let text):
            guard let state = GTIDState(parsing: text) else { throw FatalError(description: "bad GTID position '\(text)'") }
            try log.seed(source: nil, gtidState: state)
            return state.isMariaDB ? .mariadbGTID(text) : .mysqlGTID(encodedSet: state.mysqlEncoded)
        }
    }

    private func finish() {
        semiSyncMonitor?.stop()
        if log.hasUnsyncedData && !log.isStalled, let report = try? log.sync(), let position = report.position {
            frontier?.advance(to: position.location)
        }
        connection?.close()
        connection = nil
        status.disconnected()
    }

    private func sleepInterruptibly(seconds: Double) {
        var left = seconds
        while left > 0 && !isStopping {
            let step = min(left, 0.1)
            usleep(UInt32(step * 1_000_000))
            left -= step
        }
    }
}
