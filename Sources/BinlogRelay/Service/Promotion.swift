import Applier
import Foundation
import MySQLClient
import RelayLog
import Synchronization

/// What `binlog-relay promote` reports: the final applied position, how long it took, and what the
/// relay can tell about data loss (RPO).
struct PromotionResult: Codable, Sendable {
    var promoted: Bool
    var error: String?
    var startedAt: Double
    /// From the promote request to the target being ready for writes (the RTO of this step).
    var tookSeconds: Double
    /// Transactions applied while promoting (what the log held beyond the target).
    var appliedWhilePromoting: UInt64
    var applied: StatusReport.Position?
    /// The source, if it still answers: its GTID position and how many of its transactions the
    /// target lacks (RPO in transactions). Nil when it did not answer (the usual failover).
    var sourceReachable: Bool
    var sourceGtid: String?
    var missingTransactions: UInt64?
    /// The target had `read_only=ON` and promote turned it off.
    var targetReadOnlyCleared: Bool
    var notes: [String]

    func encoded() -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return (try? Array(encoder.encode(self))) ?? Array("{}".utf8)
    }

    static func decode(_ bytes: [UInt8]) throws -> PromotionResult {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return try decoder.decode(PromotionResult.self, from: Data(bytes))
    }

    var text: String {
        var lines: [String] = []
        if promoted {
            lines.append("promoted: the target has everything the local log held and takes writes")
        } else {
            lines.append("NOT promoted: \(error ?? "unknown error")")
        }
        if let applied {
            var position = "final applied position: \(applied.file ?? "?"):\(applied.position.map(String.init) ?? "?")"
            if let gtid = applied.gtid, !gtid.isEmpty { position += "  gtid \(gtid)" }
            lines.append(position)
        }
        lines.append("applied while promoting: \(appliedWhilePromoting) transactions")
        lines.append("took: \(StatusReport.seconds(tookSeconds)) (RTO of this step: request to target ready)")
        if sourceReachable {
            lines.append(
                "source still answers: gtid \(sourceGtid ?? "?"); transactions missing on the target: \(missingTransactions.map(String.init) ?? "unknown")")
        } else {
            lines.append("source did not answer: RPO = what it committed after the local log's last durable transaction (0 with semi-sync on)")
        }
        if targetReadOnlyCleared { lines.append("target: read_only was ON and is now OFF") }
        lines += notes.map { "note: \($0)" }
        return lines.joined(separator: "\n")
    }
}

/// Failover: stop reading the source, apply everything the local log holds, stop; then make the
/// target writable, measure what the source (if it answers) has that the target lacks, and leave
/// a marker in the log directory so that a restarted relay does not go on applying the old source
/// onto the promoted target.
final class Promotion: Sendable {
    struct Settings: Sendable {
        var source: MySQLConnectionConfiguration?
        var target: MySQLConnectionConfiguration
        var logDirectory: String
    }

    let settings: Settings
    let monitor: RelayMonitor
    /// Stops the source reader (the service then finishes the frontier, and the applier applies to the end).
    let stopSource: @Sendable () -> Void
    let applierDone: Completion
    private let task = Mutex<Task<PromotionResult, Never>?>(nil)

    init(settings: Settings, monitor: RelayMonitor, stopSource: @escaping @Sendable () -> Void, applierDone: Completion) {
        self.settings = settings
        self.monitor = monitor
        self.stopSource = stopSource
        self.applierDone = applierDone
    }

    var isPromoting: Bool { task.withLock { $0 != nil } }

    /// Starts the promotion (once) and waits for its result.
    func promote() async -> PromotionResult {
        let running = task.withLock { task in
            if let task { return task }
            let started = Task { await self.run() }
            task = started
            return started
        }
        return await running.value
    }

    private func run() async -> PromotionResult {
        let started = wallClockSeconds()
        monitor.setPhase(.promoting)
        let before = monitor.applier?.snapshot.transactionsApplied ?? 0
        stopSource()
        let failure = await applierDone.wait()
        let result = Self.finish(
            settings: settings, applier: monitor.applier?.snapshot, appliedBefore: before, failure: failure, started: started)
        monitor.setPhase(result.promoted ? .promoted : .stopping)
        return result
    }

    /// The steps after the applier has stopped, shared with `promote` of a relay that is not running.
    static func finish(
        settings: Settings, applier: ApplierStatus.Snapshot?, appliedBefore: UInt64, failure: String?, started: Double
    ) -> PromotionResult {
        var result = PromotionResult(
            promoted: false, error: failure, startedAt: started, tookSeconds: 0,
            appliedWhilePromoting: (applier?.transactionsApplied ?? 0) - min(appliedBefore, applier?.transactionsApplied ?? 0),
            sourceReachable: false, targetReadOnlyCleared: false, notes: [])
        if let applied = applier?.applied {
            result.applied = .init(
                file: applied.source.file, position: applied.source.position, gtid: applied.gtid.description,
                log: applied.location.description,
                commitTimestamp: applied.commitMicroseconds > 0 ? Double(applied.commitMicroseconds) / 1e6 : nil)
        }
        if failure == nil {
            // The target takes writes: a DR replica is often kept read_only; promote lifts it.
            do {
                let target = try MySQLConnection(configuration: settings.target)
                defer { target.close() }
                if try target.query("SELECT @@global.read_only").scalar == "1" {
                    try target.execute("SET GLOBAL read_only = OFF")
                    result.targetReadOnlyCleared = true
                }
                result.promoted = true
            } catch {
                result.error = "the target: \(error)"
            }
        }
        result.tookSeconds = wallClockSeconds() - started

        // RPO, when the old source still answers (a planned switchover, or a network cut only).
        if var source = settings.source {
            source.connectTimeoutSeconds = 3
            source.readTimeoutSeconds = 5
            if let connection = try? MySQLConnection(configuration: source) {
                defer { connection.close() }
                let variable = connection.isMariaDB ? "@@global.gtid_binlog_pos" : "@@global.gtid_executed"
                if let text = try? connection.query("SELECT \(variable)").scalar {
                    result.sourceReachable = true
                    result.sourceGtid = text
                    if let sourceState = GTIDState(parsing: text), let applied = applier?.applied {
                        result.missingTransactions = sourceState.transactionCount(after: applied.gtid)
                    }
                    if (result.missingTransactions ?? 0) > 0 {
                        result.notes.append(
                            "the source answers and holds transactions the target lacks: stop writes on it (read_only) before a planned switchover, and let the relay catch up first")
                    }
                }
            }
        }
        if result.promoted {
            do {
                try PromotionMarker.write(result, directory: settings.logDirectory)
            } catch {
                result.notes.append("could not write the promotion marker in \(settings.logDirectory): \(error)")
            }
        }
        return result
    }
}

/// `PROMOTED` in the log directory: once the target has been promoted, a relay started on this log
/// refuses to apply (it would replay the old source over the new primary).
enum PromotionMarker {
    static let fileName = "PROMOTED"

    static func path(_ directory: String) -> String { directory + "/" + fileName }

    static func write(_ result: PromotionResult, directory: String) throws {
        try Data(result.encoded()).write(to: URL(fileURLWithPath: path(directory)), options: .atomic)
    }

    static func exists(_ directory: String) -> Bool { FileManager.default.fileExists(atPath: path(directory)) }
}

/// A one-shot event several tasks can wait for: the applier has returned (with its failure, if any).
final class Completion: Sendable {
    private struct State {
        var done = false
        var failure: String?
        var waiters: [CheckedContinuation<String?, Never>] = []
    }

    private let state = Mutex(State())

    init() {}

    func complete(failure: String?) {
        let waiters = state.withLock { state -> [CheckedContinuation<String?, Never>] in
            guard !state.done else { return [] }
            state.done = true
            state.failure = failure
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume(returning: failure) }
    }

    func wait() async -> String? {
        await withCheckedContinuation { continuation in
            let immediate: String?? = state.withLock { state in
                if state.done { return .some(state.failure) }
                state.waiters.append(continuation)
                return .none
            }
            if case .some(let failure) = immediate { continuation.resume(returning: failure) }
        }
    }
}
