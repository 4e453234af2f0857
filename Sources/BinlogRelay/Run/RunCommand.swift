import Applier
import ArgumentParser
import Logging
import MySQLClient
import RelayLog
import Synchronization
import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// `binlog-relay run`: the server. With only a source configured it relays (source → local log).
///
/// Settings come from options and from `BINLOG_RELAY_…` environment variables (the variable
/// wins over nothing; an option wins over the variable), so secrets never sit on a command line.
struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Relay the source's binlog into the local durable log and, with a target, apply it there exactly once."
    )

    @OptionGroup(title: "Target")
    var target: TargetOptions

    @Option(name: .customLong("source-url"), help: "mysql://user[:password]@host[:port][?ssl-mode=…&ssl-ca=…] (or BINLOG_RELAY_SOURCE_URL).")
    var sourceURL: String?

    @Option(name: .customLong("log-dir"), help: "Directory of the durable local log (or BINLOG_RELAY_LOG_DIR).")
    var logDirectory: String?

    @Option(name: .customLong("server-id"), help: "Replica server id to register with (or BINLOG_RELAY_SERVER_ID).")
    var serverID: UInt32?

    @Option(help: "Where to start an empty log: current, earliest, FILE:POS or a GTID position (or BINLOG_RELAY_SOURCE_START).")
    var start: String?

    @Option(name: .customLong("heartbeat"), help: "Source heartbeat period in seconds.")
    var heartbeatSeconds: Double = 1

    @Flag(name: .customLong("semi-sync"), help: "Register as a semi-synchronous replica: ACK only after fsync.")
    var semiSync = false

    @Option(name: .customLong("semi-sync-poll-interval"), help: "With --semi-sync: seconds between polls of the source's semi-sync state (on, or fallen back to async).")
    var semiSyncPollSeconds: Double = 2

    @Option(name: .customLong("sync-interval-ms"), help: "Group commit: fsync at most this often (0 = at every transaction end).")
    var syncIntervalMilliseconds: Int = 0

    @Option(
        name: .customLong("sync-max-delay-ms"),
        help: "Group commit while catching up: a transaction end may wait this long for its fsync when more of the stream has already arrived (0 = fsync every transaction end). A semi-sync ACK is never delayed.")
    var syncMaxDelayMilliseconds: Int = 50

    @Option(name: .customLong("retention-hours"), help: "Delete closed segments older than this (default 168; 0 keeps them).")
    var retentionHours: Double = 168

    @Option(name: .customLong("retention-max-bytes"), help: "Delete the oldest closed segments while the log is larger than this.")
    var retentionMaxBytes: Int64?

    @Option(name: .customLong("segment-size"), help: "Roll to a new segment file after this many bytes (at a transaction end).")
    var segmentSize: Int64 = 256 << 20

    @Flag(name: .customLong("exit-when-caught-up"), help: "Stop once the source has nothing more (a one-shot copy).")
    var exitWhenCaughtUp = false

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error, critical.")
    var logLevel: String = "info"

    func run() throws {
        let environment = Environment()
        let logger = makeLogger(label: "binlog-relay.source", level: logLevel)
        let source = try sourceConfiguration(url: sourceURL, environment: environment)
        guard let directory = logDirectory ?? environment["BINLOG_RELAY_LOG_DIR"] else {
            throw ValidationError("no log directory: set --log-dir or BINLOG_RELAY_LOG_DIR")
        }
        let idText = environment["BINLOG_RELAY_SERVER_ID"]
        guard let serverID = serverID ?? idText.flatMap(UInt32.init), serverID > 0 else {
            throw ValidationError("source.server_id: set --server-id or BINLOG_RELAY_SERVER_ID to a number from 1 to 4294967295")
        }
        guard semiSyncPollSeconds >= 0.1 else {
            throw ValidationError("--semi-sync-poll-interval must be at least 0.1 seconds")
        }
        let explicitStart = start ?? environment["BINLOG_RELAY_SOURCE_START"]
        let startText = explicitStart ?? "current"
        guard var startPoint = SourceReader.StartPoint(startText) else {
            throw ValidationError("source.start: '\(startText)' is not current, earliest, FILE:POS or a GTID position")
        }

        let applierConfiguration = try target.applierConfiguration(
            logDirectory: directory, environment: environment,
            logger: Logger(label: "binlog-relay.apply"))

        var logConfiguration = RelayLogConfiguration(directory: FilePath(directory))
        logConfiguration.hasTarget = applierConfiguration != nil
        logConfiguration.syncInterval = .milliseconds(syncIntervalMilliseconds)
        logConfiguration.segmentSizeLimit = segmentSize
        logConfiguration.retentionMaxAge = retentionHours > 0 ? .seconds(retentionHours * 3600) : nil
        logConfiguration.retentionMaxBytes = retentionMaxBytes
        let log: RelayLogWriter
        do {
            log = try RelayLogWriter(configuration: logConfiguration)
        } catch {
            printError("binlog-relay run: local log: \(error)")
            throw ExitCode.failure
        }
        for warning in log.recoveryReport.warnings { logger.warning("\(warning)") }
        if let applierConfiguration, log.recovered == nil {
            // An empty log on a target that `binlog-relay seed` prepared starts at the seed's snapshot.
            do {
                if let seeded = try seededStartPoint(explicit: explicitStart, applier: applierConfiguration) {
                    startPoint = seeded
                    logger.info("continuing from the seed on the target", metadata: ["start": "\(seeded)"])
                }
            } catch {
                try? log.close()
                printError("binlog-relay run: \((error as? ValidationError)?.message ?? "\(error)")")
                throw ExitCode.failure
            }
        }
        if let recovered = log.recovered { logger.info("local log recovered", metadata: ["resume": "\(recovered)"]) }

        // With a target: the applier on a thread of its own, reading the log up to what is durable.
        let frontier = LogFrontier()
        var applier: Applier?
        var applierThread: BackgroundThread?
        let applierFailure = FailureBox()
        if var applierConfiguration {
            applierConfiguration.stopAtEnd = exitWhenCaughtUp
            let started = Applier(
                configuration: applierConfiguration, frontier: frontier, logger: Logger(label: "binlog-relay.apply"))
            applier = started
            applierThread = BackgroundThread {
                do {
                    try started.run()
                } catch {
                    applierFailure.set("\(error)")
                }
            }
        }
        let appliedStatus = applier?.status
        let reader = SourceReader(
            settings: .init(
                source: source, serverID: serverID, heartbeatSeconds: heartbeatSeconds, semiSync: semiSync,
                semiSyncPollSeconds: semiSyncPollSeconds, maxSyncDelay: .milliseconds(max(0, syncMaxDelayMilliseconds)),
                start: startPoint, exitWhenCaughtUp: exitWhenCaughtUp),
            log: log, logger: logger, frontier: frontier,
            appliedLocation: appliedStatus.map { status in { @Sendable in status.snapshot.applied?.location } })
        let stopApplier = applier?.stopFlag
        StopSignals.install {
            reader.stop()
            stopApplier?.set()
        }
        var failed = false
        do {
            try reader.run()
        } catch {
            printError("binlog-relay run: \(error)")
            failed = true
            applier?.stop()
        }
        frontier.finish()
        if let applierThread {
            applierThread.join()
            if let failure = applierFailure.value {
                printError("binlog-relay run: apply: \(failure)")
                failed = true
            }
        }
        try? log.close()
        if failed { throw ExitCode.failure }
        if let snapshot = applier?.status.snapshot {
            logger.info(
                "applier stopped",
                metadata: [
                    "checkpoint": "\(snapshot.applied?.location.description ?? "none")",
                    "transactions": "\(snapshot.transactionsApplied)",
                ])
        }
        let done = reader.status.snapshot
        logger.info(
            "stopped",
            metadata: [
                "durable": "\(log.durablePosition?.description ?? "none")", "events": "\(done.eventsReceived)",
                "bytes": "\(done.bytesReceived)", "syncs": "\(done.syncs)", "fsync_ms": "\(done.fsyncTime.millisecondsText)",
            ])
    }
}

/// A message one thread leaves for another.
final class FailureBox: Sendable {
    private let message = Mutex<String?>(nil)
    func set(_ text: String) { message.withLock { $0 = text } }
    var value: String? { message.withLock { $0 } }
}

/// The process environment as a dictionary.
struct Environment {
    let values: [String: String]

    init() {
        var values: [String: String] = [:]
        var pointer = environ
        while let entry = pointer.pointee {
            let text = String(cString: entry)
            if let equals = text.firstIndex(of: "=") {
                values[String(text[..<equals])] = String(text[text.index(after: equals)...])
            }
            pointer += 1
        }
        self.values = values
    }

    subscript(name: String) -> String? { values[name].flatMap { $0.isEmpty ? nil : $0 } }
}

/// SIGTERM and SIGINT ask the service to finish the current batch, fsync and exit 0.
enum StopSignals {
    nonisolated(unsafe) private static var handler: (@Sendable () -> Void)?

    static func install(_ onStop: @escaping @Sendable () -> Void) {
        handler = onStop
        let action: @convention(c) (Int32) -> Void = { _ in StopSignals.handler?() }
        signal(SIGTERM, action)
        signal(SIGINT, action)
    }
}

func makeLogger(label: String, level: String) -> Logger {
    LoggingSystem.bootstrap { label in
        var handler = StreamLogHandler.standardError(label: label)
        handler.logLevel = Logger.Level(rawValue: level) ?? .info
        return handler
    }
    var logger = Logger(label: label)
    logger.logLevel = Logger.Level(rawValue: level) ?? .info
    return logger
}
