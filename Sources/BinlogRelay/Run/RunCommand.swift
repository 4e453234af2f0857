import Applier
import ArgumentParser
import Logging
import MySQLClient
import Prometheus
import RelayLog
import ServiceLifecycle
import Synchronization
import SystemPackage
import UnixSignals

#if canImport(Glibc)
import Glibc
#endif

/// `binlog-relay run`: the server. With only a source configured it relays (source → local log);
/// with a target it also applies. Settings: `--config relay.yaml`, `BINLOG_RELAY_…` variables
/// (which win over the file), and options (which win over both).
struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Relay the source's binlog into the local durable log and, with a target, apply it there exactly once."
    )

    @OptionGroup(title: "Settings")
    var config: ConfigOptions

    @Flag(name: .customLong("check-config"), help: "Validate the settings, print the effective values (secrets masked) and exit.")
    var checkConfig = false

    @OptionGroup(title: "Target")
    var target: TargetOptions

    @Option(name: .customLong("source-url"), help: "mysql://user[:password]@host[:port][?ssl-mode=…&ssl-ca=…] (source.url).")
    var sourceURL: String?

    @Option(name: .customLong("log-dir"), help: "Directory of the durable local log (log.dir).")
    var logDirectory: String?

    @Option(name: .customLong("server-id"), help: "Replica server id to register with (source.server_id).")
    var serverID: UInt32?

    @Option(help: "Where to start an empty log: current, earliest, FILE:POS or a GTID position (source.start).")
    var start: String?

    @Option(name: .customLong("heartbeat"), help: "Source heartbeat period in seconds (source.heartbeat, default 1).")
    var heartbeatSeconds: Double?

    @Flag(name: .customLong("semi-sync"), help: "Register as a semi-synchronous replica: ACK only after fsync (source.semi_sync).")
    var semiSync = false

    @Option(name: .customLong("semi-sync-poll-interval"), help: "With --semi-sync: seconds between polls of the source's semi-sync state.")
    var semiSyncPollSeconds: Double?

    @Option(name: .customLong("sync-interval-ms"), help: "Group commit: fsync at most this often (0 = at every transaction end).")
    var syncIntervalMilliseconds: Int?

    @Option(
        name: .customLong("sync-max-delay-ms"),
        help: "Group commit while catching up: a transaction end may wait this long for its fsync when more of the stream has already arrived (default 50; 0 = fsync every transaction end). A semi-sync ACK is never delayed.")
    var syncMaxDelayMilliseconds: Int?

    @Option(name: .customLong("retention-hours"), help: "Delete closed segments older than this (default 168; 0 keeps them).")
    var retentionHours: Double?

    @Option(name: .customLong("retention-max-bytes"), help: "Delete the oldest closed segments while the log is larger than this.")
    var retentionMaxBytes: String?

    @Option(name: .customLong("segment-size"), help: "Roll to a new segment file after this many bytes (default 256MiB).")
    var segmentSize: String?

    @Option(name: .customLong("http-listen"), help: "host:port for /metrics, /healthz, /readyz, /status (http.listen, default 127.0.0.1:9104; port 0 picks one).")
    var httpListen: String?

    @Flag(name: .customLong("exit-when-caught-up"), help: "Stop once the source has nothing more (a one-shot copy).")
    var exitWhenCaughtUp = false

    var overrides: [String: SettingsSources.Value] {
        var values = target.overrides
        func put(_ key: String, _ value: (some CustomStringConvertible)?) {
            if let value { values[key] = .text(value.description) }
        }
        put("source.url", sourceURL)
        put("log.dir", logDirectory)
        put("source.server_id", serverID)
        put("source.start", start)
        put("source.heartbeat", heartbeatSeconds)
        if semiSync { values["source.semi_sync"] = .text("true") }
        put("source.semi_sync_poll_interval", semiSyncPollSeconds)
        put("log.sync_interval_ms", syncIntervalMilliseconds)
        put("log.sync_max_delay_ms", syncMaxDelayMilliseconds)
        put("log.retention_hours", retentionHours)
        put("log.retention_max_bytes", retentionMaxBytes)
        put("log.segment_size", segmentSize)
        put("http.listen", httpListen)
        return values
    }

    func run() async throws {
        // --check-config fails exactly as `run` would (a unit's ExecStartPre relies on it).
        let settings = try config.settings(overrides, require: [.source, .log])
        if checkConfig {
            print(settings.report)
            return
        }
        guard let sourceSettings = settings.source, let logSettings = settings.log else { return }
        settings.bootstrapLogging()
        let logger = settings.logger("binlog-relay.source")
        for warning in settings.warnings { logger.warning("\(warning)") }
        if PromotionMarker.exists(logSettings.directory) {
            printError(
                "binlog-relay run: the target was promoted from this log (\(PromotionMarker.path(logSettings.directory))): a relay on it would replay the old source over the new primary. For failback, start a relay in the other direction with a new log directory (docs/runbook.md).")
            throw ExitCode.failure
        }

        var logConfiguration = RelayLogConfiguration(directory: FilePath(logSettings.directory))
        logConfiguration.hasTarget = settings.target != nil
        logConfiguration.syncInterval = .milliseconds(logSettings.syncIntervalMilliseconds)
        logConfiguration.segmentSizeLimit = logSettings.segmentSize
        logConfiguration.retentionMaxAge = logSettings.retentionHours > 0 ? .seconds(logSettings.retentionHours * 3600) : nil
        logConfiguration.retentionMaxBytes = logSettings.retentionMaxBytes
        let log: RelayLogWriter
        do {
            log = try RelayLogWriter(configuration: logConfiguration)
        } catch {
            printError("binlog-relay run: local log: \(error)")
            throw ExitCode.failure
        }
        for warning in log.recoveryReport.warnings { logger.warning("\(warning)") }
        var startPoint = sourceSettings.start
        if let targetSettings = settings.target, log.recovered == nil {
            // An empty log on a target that `binlog-relay seed` prepared starts at the seed's snapshot.
            do {
                let explicitStart = sourceSettings.startIsExplicit ? sourceSettings.startText : nil
                if let seeded = try seededStartPoint(
                    explicit: explicitStart, applier: targetSettings.applierConfiguration(logDirectory: logSettings.directory))
                {
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

        let metrics = RelayMetrics()
        let frontier = LogFrontier()
        var applier: Applier?
        if let targetSettings = settings.target {
            var configuration = targetSettings.applierConfiguration(logDirectory: logSettings.directory)
            // Stops at the end only once the source side has finished (promote, --exit-when-caught-up);
            // a refused transaction is retried while the relay keeps receiving, and reported then.
            configuration.stopAtEnd = true
            configuration.retriesRefusalsWhileRelaying = true
            let histogram = metrics.applyBatchSeconds
            applier = Applier(
                configuration: configuration, frontier: frontier, logger: settings.logger("binlog-relay.apply"),
                status: ApplierStatus(batchObserver: { histogram.record($0) }))
        }
        let appliedStatus = applier?.status
        let fsyncHistogram = metrics.fsyncSeconds
        let reader = SourceReader(
            settings: .init(
                source: sourceSettings.connection, serverID: sourceSettings.serverID,
                heartbeatSeconds: sourceSettings.heartbeatSeconds, semiSync: sourceSettings.semiSync,
                semiSyncPollSeconds: sourceSettings.semiSyncPollSeconds,
                maxSyncDelay: .milliseconds(max(0, logSettings.syncMaxDelayMilliseconds)),
                start: startPoint, exitWhenCaughtUp: exitWhenCaughtUp),
            log: log, logger: logger, frontier: frontier,
            appliedLocation: appliedStatus.map { status in { @Sendable in status.snapshot.applied?.location } },
            fsyncObserver: { fsyncHistogram.record($0) })

        let monitor = RelayMonitor(
            configuration: .init(
                sourceEndpoint: sourceSettings.connection.endpoint, targetEndpoint: settings.target?.connection.endpoint,
                channel: settings.target?.channel ?? "default", heartbeatPeriod: sourceSettings.heartbeatSeconds,
                readyMaxLagSeconds: settings.http.readyMaxLagSeconds, logDirectory: logSettings.directory),
            source: reader.status, applier: appliedStatus, frontier: frontier)
        let applierDone = Completion()
        let promotion = settings.target.map { target in
            Promotion(
                settings: .init(source: sourceSettings.connection, target: target.connection, logDirectory: logSettings.directory),
                monitor: monitor, stopSource: { reader.stop() }, applierDone: applierDone)
        }
        let history = LagHistory()
        let httpLogger = settings.logger("binlog-relay.http")
        let http = RelayHTTP.application(
            settings: settings.http, monitor: monitor, metrics: metrics, history: history, promotion: promotion,
            logger: httpLogger,
            onRunning: { port in
                httpLogger.notice("serving HTTP", metadata: ["listen": "\(settings.http.host):\(port)"])
            })
        let sampler = PeriodicService(interval: .seconds(1)) { history.record(monitor.report()) }

        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [
            .init(
                service: LabelledService(label: "http.listen \(settings.http.listen)", inner: http),
                successTerminationBehavior: .gracefullyShutdownGroup, failureTerminationBehavior: .gracefullyShutdownGroup),
            .init(service: sampler),
        ]
        if let applier {
            let applierLogger = settings.logger("binlog-relay.apply")
            services.append(
                .init(
                    service: ThreadService(
                        name: "applier", body: { try applier.run() }, stop: { applier.stop() },
                        after: { failure in
                            if let failure { applierLogger.error("applier stopped", metadata: ["error": "\(failure)"]) }
                            applierDone.complete(failure: failure.map { "\($0)" })
                            // A promote waits for this: give its HTTP answer time to leave before the group stops.
                            if promotion?.isPromoting == true { try? await Task.sleep(for: .milliseconds(500)) }
                        }),
                    successTerminationBehavior: .gracefullyShutdownGroup, failureTerminationBehavior: .gracefullyShutdownGroup))
        }
        services.append(
            .init(
                service: ThreadService(
                    name: "source", body: { try reader.run() }, stop: { reader.stop() },
                    after: { failure in
                        if let failure {
                            logger.error("source reader stopped", metadata: ["error": "\(failure)"])
                            metrics.logError()
                        }
                        // The applier may apply to the end now, and stop there.
                        frontier.finish()
                    }),
                // With a target the applier decides when the relay ends (it applies what is left first).
                successTerminationBehavior: applier == nil ? .gracefullyShutdownGroup : .ignore,
                failureTerminationBehavior: .gracefullyShutdownGroup))

        let group = ServiceGroup(
            configuration: .init(
                services: services, gracefulShutdownSignals: [.sigterm, .sigint], cancellationSignals: [],
                logger: settings.logger("binlog-relay.lifecycle")))
        var failed = false
        do {
            try await group.run()
        } catch {
            printError("binlog-relay run: \(error)")
            failed = true
        }
        monitor.setPhase(.stopping)
        try? log.close()
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
        if failed { throw ExitCode.failure }
    }
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
