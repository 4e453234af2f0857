import Logging
import MySQLClient

#if canImport(Glibc)
import Glibc
#endif

/// The source's semi-sync state as its own status variables say it.
///
/// `Rpl_semi_sync_master_status` (MySQL 8.0.26+: `Rpl_semi_sync_source_status`) is the only
/// reliable sign that a source has fallen back to async: the ACK-requested flag on the stream is
/// no sign, because a source that has fallen back keeps asking for ACKs (that is how it notices a
/// replica that caught up and switches back on).
struct SemiSyncProbe: Sendable, Equatable {
    var state: SourceSemiSyncState
    var yesTransactions: UInt64?
    var noTransactions: UInt64?
    var clients: UInt64?

    /// Two statements any user may run (no privilege is needed to read global status).
    static func read(_ connection: MySQLConnection) throws(MySQLError) -> SemiSyncProbe {
        func values(_ sql: String) throws(MySQLError) -> [String: String] {
            var result: [String: String] = [:]
            for row in try connection.query(sql).rows where row.count >= 2 {
                guard var name = row[0]?.lowercased(), let value = row[1] else { continue }
                for prefix in ["rpl_semi_sync_master_", "rpl_semi_sync_source_"] where name.hasPrefix(prefix) {
                    name.removeFirst(prefix.count)
                }
                result[name] = value
            }
            return result
        }
        let variables = try values(
            "SHOW GLOBAL VARIABLES WHERE Variable_name IN ('rpl_semi_sync_master_enabled', 'rpl_semi_sync_source_enabled')")
        guard let enabled = variables["enabled"] else { return SemiSyncProbe(state: .unavailable) }
        let status = try values(
            "SHOW GLOBAL STATUS WHERE Variable_name IN ('Rpl_semi_sync_master_status', 'Rpl_semi_sync_source_status',"
                + " 'Rpl_semi_sync_master_yes_tx', 'Rpl_semi_sync_source_yes_tx', 'Rpl_semi_sync_master_no_tx',"
                + " 'Rpl_semi_sync_source_no_tx', 'Rpl_semi_sync_master_clients', 'Rpl_semi_sync_source_clients')")
        let isOn = { (text: String?) in text.map { ["ON", "1"].contains($0.uppercased()) } ?? false }
        let state: SourceSemiSyncState = !isOn(enabled) ? .disabled : isOn(status["status"]) ? .on : .fellBack
        return SemiSyncProbe(
            state: state, yesTransactions: status["yes_tx"].flatMap { UInt64($0) },
            noTransactions: status["no_tx"].flatMap { UInt64($0) }, clients: status["clients"].flatMap { UInt64($0) })
    }
}

/// Polls the source's semi-sync state on a connection of its own, every `interval` seconds, while
/// the relay runs with `--semi-sync`; logs each change ("source semi-sync: on", "source semi-sync:
/// off (source fell back to async)") and records it in ``SourceStatus``.
///
/// A second connection because the dump connection is busy streaming (a query on it would end
/// the dump). A failed poll leaves the last state in place (logged at debug level) and reconnects
/// at the next one; the stream's own reconnects report connection trouble.
final class SemiSyncMonitor: @unchecked Sendable {
    let source: MySQLConnectionConfiguration
    let interval: Double
    let status: SourceStatus
    let logger: Logger
    private let stopFlag = AtomicFlag()
    private var thread: pthread_t?

    init(source: MySQLConnectionConfiguration, interval: Double, status: SourceStatus, logger: Logger) {
        var source = source
        source.readTimeoutSeconds = max(2, Int(interval.rounded(.up)) * 2)
        source.writeTimeoutSeconds = source.readTimeoutSeconds
        self.source = source
        self.interval = interval
        self.status = status
        self.logger = logger
    }

    /// Records a probe and logs the change, if any. Also used by the reader for the probe it makes
    /// on its own connection before each dump starts.
    func report(_ probe: SemiSyncProbe) {
        let before = status.sourceSemiSync(probe)
        guard before != probe.state else { return }
        var metadata: Logger.Metadata = [:]
        if let yes = probe.yesTransactions { metadata["yes_tx"] = "\(yes)" }
        if let no = probe.noTransactions { metadata["no_tx"] = "\(no)" }
        if let clients = probe.clients { metadata["clients"] = "\(clients)" }
        let message: Logger.Message = "source semi-sync: \(probe.state.words)"
        switch probe.state {
        case .fellBack:
            // Commits on the source no longer wait for the relay: the RPO is no longer zero.
            logger.warning(message, metadata: metadata)
        default:
            logger.info(message, metadata: metadata)
        }
    }

    func start() {
        let box = Unmanaged.passRetained(self)
        var thread = pthread_t()
        let result = pthread_create(&thread, nil, { argument in
            let monitor = Unmanaged<SemiSyncMonitor>.fromOpaque(argument!).takeRetainedValue()
            monitor.loop()
            return nil
        }, box.toOpaque())
        if result == 0 {
            self.thread = thread
        } else {
            box.release()
            logger.warning("cannot start the semi-sync monitor thread", metadata: ["errno": "\(result)"])
        }
    }

    /// Stops polling and waits for the thread (at most one poll's time).
    func stop() {
        stopFlag.set()
        if let thread {
            pthread_join(thread, nil)
            self.thread = nil
        }
    }

    private func loop() {
        var connection: MySQLConnection?
        defer { connection?.close() }
        while !stopFlag.isSet {
            sleepInterruptibly(seconds: interval)
            if stopFlag.isSet { break }
            do throws(MySQLError) {
                if connection == nil { connection = try MySQLConnection(configuration: source) }
                try report(SemiSyncProbe.read(connection!))
            } catch {
                logger.debug("semi-sync poll failed", metadata: ["error": "\(error)"])
                connection?.close()
                connection = nil
            }
        }
    }

    private func sleepInterruptibly(seconds: Double) {
        var left = seconds
        while left > 0 && !stopFlag.isSet {
            let step = min(left, 0.05)
            usleep(UInt32(step * 1_000_000))
            left -= step
        }
    }
}
