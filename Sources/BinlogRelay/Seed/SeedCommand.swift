import Applier
import ArgumentParser
import Logging
import MySQLClient
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// `binlog-relay seed`: gives the target a consistent copy of the source's tables and the
/// checkpoint `binlog-relay run` continues from (docs/seed.md).
struct SeedCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "seed",
        abstract: "Copy the source's tables to the target under a consistent snapshot and leave the checkpoint `run` continues from.",
        discussion: """
            Source and target as for `run` (--source-url/BINLOG_RELAY_SOURCE_URL, --target-url/BINLOG_RELAY_TARGET_URL, \
            password files, --config), with the same --include/--exclude/--rewrite-schema and --channel. A lost connection is retried; \
            killed, it continues from the last piece it committed when run again (docs/seed.md). --batch-bytes, --batch-transactions and --workers are apply settings: \
            seed ignores them (see --connections).
            """
    )

    @OptionGroup(title: "Settings")
    var config: ConfigOptions

    @Option(name: .customLong("source-url"), help: "mysql://user[:password]@host[:port][?ssl-mode=…&ssl-ca=…] (source.url).")
    var sourceURL: String?

    @OptionGroup(title: "Target")
    var target: TargetOptions

    @Option(name: .customLong("connections"), help: "Copy over this many source/target connection pairs side by side (seed.connections, default 4).")
    var connections: Int?

    @Flag(name: .customLong("replace"), help: "Drop the selected tables that already exist on the target (and the channel's earlier seed or checkpoint) and copy them again.")
    var replace = false

    @Option(name: .customLong("piece-rows"), help: "At most this many rows per target transaction (seed.piece_rows, default 50000).")
    var pieceRows: Int?

    @Option(name: .customLong("piece-bytes"), help: "A target transaction's statements stop growing past this size (seed.piece_bytes, default 8MiB; at most a quarter of the target's max_allowed_packet).")
    var pieceBytes: String?

    @Option(name: .customLong("progress"), help: "auto (bars on a terminal, log lines otherwise), bars, lines or none (seed.progress).")
    var progress: String?

    /// The seed's settings: options, then `BINLOG_RELAY_…` variables, then `--config`.
    func seedConfiguration() throws -> (SeedConfiguration, RelaySettings) {
        var options = target.overrides
        options["source.url"] = sourceURL.map { .text($0) }
        options["seed.connections"] = connections.map { .text(String($0)) }
        if replace { options["seed.replace"] = .text("true") }
        options["seed.piece_rows"] = pieceRows.map { .text(String($0)) }
        options["seed.piece_bytes"] = pieceBytes.map { .text($0) }
        options["seed.progress"] = progress.map { .text($0) }
        let settings = try config.settings(options, require: [.target])
        guard let source = settings.source, let target = settings.target else {
            throw ValidationError("source.url: required (--source-url, BINLOG_RELAY_SOURCE_URL or source.url in --config)")
        }
        var configuration = SeedConfiguration(source: source.connection, target: target.connection)
        configuration.channel = target.channel
        configuration.schema = target.relaySchema
        configuration.filter = target.filter
        configuration.replace = settings.seed.replace
        configuration.connections = settings.seed.connections
        configuration.pieceRows = settings.seed.pieceRows
        configuration.pieceBytes = settings.seed.pieceBytes
        return (configuration, settings)
    }

    func run() throws {
        let (configuration, settings) = try seedConfiguration()
        settings.bootstrapLogging()
        let logger = settings.logger("binlog-relay.seed")
        for warning in settings.warnings { logger.warning("\(warning)") }
        guard let mode = SeedProgressDisplay.Mode(rawValue: settings.seed.progress) else {
            throw ValidationError("seed.progress: auto, bars, lines or none")
        }
        let seeder = Seeder(configuration: configuration, logger: logger)
        let stop = seeder.stopFlag
        StopSignals.install { stop.set() }
        let outcome = SeedOutcome()
        let started = ContinuousClock.now
        let thread = BackgroundThread {
            do throws(ApplierError) {
                outcome.set(.success(try seeder.run()))
            } catch {
                outcome.set(.failure(error))
            }
        }
        let display = SeedProgressDisplay(mode: mode, progress: seeder.progress, logger: logger)
        while outcome.value == nil {
            display.update()
            usleep(200_000)
        }
        thread.join()
        display.finish()
        switch outcome.value! {
        case .failure(let error):
            printError("binlog-relay seed: \(error)")
            throw ExitCode.failure
        case .success(let summary):
            let seconds = started.duration(to: .now).seconds
            let distinct = summary.snapshots.reduce(into: [SnapshotPosition]()) { if !$0.contains($1) { $0.append($1) } }
            logger.notice(
                "seed done: `binlog-relay run` continues from the checkpoint",
                metadata: [
                    "tables": "\(summary.tables)", "rows_copied": "\(summary.rowsCopied)",
                    "rows_copied_before": "\(summary.rowsBefore)", "resumed": "\(summary.resumed)",
                    "checkpoint": "\(summary.checkpoint)", "snapshots": "\(distinct.count)",
                    "seconds": "\(ProgressText.seconds(seconds))", "channel": "\(configuration.channel)",
                ])
        }
    }
}

/// The seed thread's result, for the main thread.
final class SeedOutcome: Sendable {
    private let result = Mutex<Result<Seeder.Summary, ApplierError>?>(nil)
    func set(_ value: Result<Seeder.Summary, ApplierError>) { result.withLock { $0 = value } }
    var value: Result<Seeder.Summary, ApplierError>? { result.withLock { $0 } }
}
