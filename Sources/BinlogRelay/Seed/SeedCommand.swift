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
            password files), with the same --include/--exclude/--rewrite-schema and --channel. A lost connection is retried; \
            killed, it continues from the last piece it committed when run again (docs/seed.md). --batch-bytes, --batch-transactions and --workers are apply settings: \
            seed ignores them (see --connections).
            """
    )

    @Option(name: .customLong("source-url"), help: "mysql://user[:password]@host[:port][?ssl-mode=…&ssl-ca=…] (or BINLOG_RELAY_SOURCE_URL).")
    var sourceURL: String?

    @OptionGroup(title: "Target")
    var target: TargetOptions

    @Option(name: .customLong("connections"), help: "Copy over this many source/target connection pairs side by side (default 4; or BINLOG_RELAY_SEED_CONNECTIONS).")
    var connections: Int?

    @Flag(name: .customLong("replace"), help: "Drop the selected tables that already exist on the target (and the channel's earlier seed or checkpoint) and copy them again.")
    var replace = false

    @Option(name: .customLong("piece-rows"), help: "At most this many rows per target transaction.")
    var pieceRows: Int = 50_000

    @Option(name: .customLong("piece-bytes"), help: "A target transaction's statements stop growing past this size (at most a quarter of the target's max_allowed_packet).")
    var pieceBytes: Int = 8 << 20

    @Option(name: .customLong("progress"), help: "auto (bars on a terminal, log lines otherwise), bars, lines or none.")
    var progress: String = "auto"

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error, critical.")
    var logLevel: String = "info"

    /// The seed's settings from the options and environment (one place, for a future config file).
    func seedConfiguration(environment: Environment, logger: Logger) throws -> SeedConfiguration {
        let source = try sourceConfiguration(url: sourceURL, environment: environment)
        guard let applier = try target.applierConfiguration(logDirectory: "", environment: environment, logger: logger) else {
            throw ValidationError("no target: set --target-url or BINLOG_RELAY_TARGET_URL")
        }
        var configuration = SeedConfiguration(source: source, target: applier.target)
        configuration.channel = applier.channel
        configuration.schema = applier.schema
        configuration.filter = applier.filter
        configuration.replace = replace
        let connectionText = environment["BINLOG_RELAY_SEED_CONNECTIONS"]
        guard let count = connections ?? (connectionText.map { Int($0) } ?? 4), (1...64).contains(count) else {
            throw ValidationError("seed.connections: a number from 1 to 64")
        }
        configuration.connections = count
        guard pieceRows >= 1 else { throw ValidationError("seed.piece_rows: at least 1") }
        guard pieceBytes >= 64 << 10 else { throw ValidationError("seed.piece_bytes: at least 65536") }
        configuration.pieceRows = pieceRows
        configuration.pieceBytes = pieceBytes
        return configuration
    }

    func run() throws {
        let environment = Environment()
        let logger = makeLogger(label: "binlog-relay.seed", level: logLevel)
        guard let mode = SeedProgressDisplay.Mode(rawValue: progress) else {
            throw ValidationError("--progress: auto, bars, lines or none")
        }
        let configuration = try seedConfiguration(environment: environment, logger: logger)
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
            let elapsed = started.duration(to: .now)
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            let distinct = summary.snapshots.reduce(into: [SnapshotPosition]()) { if !$0.contains($1) { $0.append($1) } }
            logger.notice(
                "seed done: `binlog-relay run` continues from the checkpoint",
                metadata: [
                    "tables": "\(summary.tables)", "rows_copied": "\(summary.rowsCopied)",
                    "rows_copied_before": "\(summary.rowsBefore)", "resumed": "\(summary.resumed)",
                    "checkpoint": "\(summary.checkpoint)", "snapshots": "\(distinct.count)",
                    "seconds": "\(secondsText(seconds))", "channel": "\(configuration.channel)",
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

func secondsText(_ seconds: Double) -> String {
    let hundredths = Int((seconds * 100).rounded())
    let fraction = hundredths % 100
    return "\(hundredths / 100).\(fraction < 10 ? "0" : "")\(fraction)"
}
