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

    @OptionGroup(title: "Settings")
    var config: ConfigOptions

    @Option(name: .customLong("log-dir"), help: "Directory of the durable local log (log.dir).")
    var logDirectory: String?

    @OptionGroup(title: "Target")
    var target: TargetOptions

    @Flag(name: .customLong("until-end"), help: "Exit once the whole log is applied (what apply always does; for scripts that say so).")
    var untilEnd = false

    func run() throws {
        var options = target.overrides
        if let logDirectory { options["log.dir"] = .text(logDirectory) }
        let settings = try config.settings(options, require: [.target, .log])
        settings.bootstrapLogging()
        let logger = settings.logger("binlog-relay.apply")
        for warning in settings.warnings { logger.warning("\(warning)") }
        let outcome: LocalApply.Outcome
        do {
            outcome = try LocalApply.run(settings: settings, logger: logger, status: ApplierStatus())
        } catch {
            printError("binlog-relay apply: \(error)")
            throw ExitCode.failure
        }
        let snapshot = outcome.snapshot
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
                "groups_in_parts": "\(snapshot.groupsInParts)",
                "pipelined": "\(snapshot.groupsPipelined)",
                "seconds": "\(outcome.seconds)",
            ])
    }
}

/// Applies a local log that no relay is running on, to its end (`apply`, and `promote` when the
/// relay is not running).
enum LocalApply {
    struct Outcome {
        var snapshot: ApplierStatus.Snapshot
        var seconds: Double
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    static func run(settings: RelaySettings, logger: Logger, status: ApplierStatus) throws -> Outcome {
        guard let target = settings.target, let directory = settings.log?.directory else {
            throw Failure(description: "needs target.url and log.dir")
        }
        var configuration = target.applierConfiguration(logDirectory: directory)
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
            throw Failure(description: "local log: \(error)")
        }
        defer { try? log.close() }
        let started = ContinuousClock.now
        guard let durable = log.durablePosition else {
            logger.notice("the local log holds no transaction: nothing to apply")
            return Outcome(snapshot: status.snapshot, seconds: 0)
        }
        let frontier = LogFrontier(durable: durable.location, finished: true)
        let applier = Applier(configuration: configuration, frontier: frontier, logger: logger, status: status)
        let stop = applier.stopFlag
        StopSignals.install { stop.set() }
        try applier.run()
        return Outcome(snapshot: applier.status.snapshot, seconds: (ContinuousClock.now - started).seconds)
    }
}
