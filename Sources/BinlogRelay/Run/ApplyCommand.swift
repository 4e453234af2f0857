import Applier
import ArgumentParser
import Logging
import RelayLog
import SystemPackage

/// `binlog-relay apply`: applies what the local log holds to the target, then exits. For a log
/// whose source is gone (the core of a failover), and for benchmarks. A running `run` holds the
/// log: this refuses to start beside it.
struct ApplyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "apply",
        abstract: "Apply everything the local log holds to the target, exactly once, then exit."
    )

    @Option(name: .customLong("log-dir"), help: "Directory of the durable local log (or BINLOG_RELAY_LOG_DIR).")
    var logDirectory: String?

    @OptionGroup(title: "Target")
    var target: TargetOptions

    @Flag(name: .customLong("until-end"), help: "Exit once the whole log is applied (what apply always does; for scripts that say so).")
    var untilEnd = false

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error, critical.")
    var logLevel: String = "info"

    func run() throws {
        let environment = Environment()
        let logger = makeLogger(label: "binlog-relay.apply", level: logLevel)
        guard let directory = logDirectory ?? environment["BINLOG_RELAY_LOG_DIR"] else {
            throw ValidationError("no log directory: set --log-dir or BINLOG_RELAY_LOG_DIR")
        }
        guard var configuration = try target.applierConfiguration(logDirectory: directory, environment: environment, logger: logger)
        else {
            throw ValidationError("no target: set --target-url or BINLOG_RELAY_TARGET_URL")
        }
        configuration.stopAtEnd = true
        // Open the log as its writer would: takes the lock (no relay may be appending) and cuts a
        // torn tail, so the applier reads only whole transactions.
        let log: RelayLogWriter
        do {
            var logConfiguration = RelayLogConfiguration(directory: FilePath(directory))
            logConfiguration.hasTarget = true
            logConfiguration.retentionMaxAge = nil
            log = try RelayLogWriter(configuration: logConfiguration)
        } catch {
            printError("binlog-relay apply: local log: \(error)")
            throw ExitCode.failure
        }
        defer { try? log.close() }
        guard let durable = log.durablePosition else {
            logger.notice("the local log holds no transaction: nothing to apply")
            return
        }
        let frontier = LogFrontier(durable: durable.location, finished: true)
        let applier = Applier(configuration: configuration, frontier: frontier, logger: logger)
        let stop = applier.stopFlag
        StopSignals.install { stop.set() }
        let started = ContinuousClock.now
        do {
            try applier.run()
        } catch {
            printError("binlog-relay apply: \(error)")
            throw ExitCode.failure
        }
        let elapsed = ContinuousClock.now - started
        let snapshot = applier.status.snapshot
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        logger.info(
            "applied",
            metadata: [
                "checkpoint": "\(snapshot.applied?.location.description ?? "none")",
                "source": "\(snapshot.applied?.source.description ?? "none")",
                "gtid": "\(snapshot.applied?.gtid.description ?? "")",
                "transactions": "\(snapshot.transactionsApplied)",
                "rows": "\(snapshot.rowsInserted + snapshot.rowsUpdated + snapshot.rowsDeleted)",
                "skipped": "\(snapshot.transactionsSkipped)", "batches": "\(snapshot.batches)",
                "round_trips": "\(snapshot.roundTrips)",
                "seconds": "\(seconds)",
            ])
    }
}
