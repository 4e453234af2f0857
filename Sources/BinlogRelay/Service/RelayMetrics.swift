import Applier
import BinlogFormat
import Prometheus
import RelayLog
import Synchronization

/// The Prometheus metrics of docs/metrics.md. Gauges and counters are brought up to date from the
/// status snapshots when scraped (lag is computed at that moment, so a cut link shows lag rising
/// between scrapes); the two histograms are fed as fsyncs and batches happen.
final class RelayMetrics: Sendable {
    let registry = PrometheusCollectorRegistry()
    let fsyncSeconds: DurationHistogram
    let applyBatchSeconds: DurationHistogram

    private struct Counters {
        var eventsByType: [UInt8: (counter: Counter, last: UInt64)] = [:]
        var last: [String: UInt64] = [:]
        var info: Gauge?
    }

    private let counters = Mutex(Counters())
    private let gauges: [String: Gauge]
    private let counterByName: [String: Counter]

    static let gaugeNames: [(String, String)] = [
        ("binlog_relay_source_connected", "1 while the binlog stream from the source is open"),
        ("binlog_relay_target_connected", "1 while the applier holds a connection to the target"),
        ("binlog_relay_semi_sync_configured", "1 when the relay registers as a semi-sync replica"),
        ("binlog_relay_source_semi_sync_active", "1 while the source runs semi-sync now (0: off or fallen back to async)"),
        ("binlog_relay_last_received_event_timestamp_seconds", "source commit time (Unix) of the newest event fsynced in the local log"),
        ("binlog_relay_last_applied_event_timestamp_seconds", "source commit time of the newest transaction committed on the target"),
        ("binlog_relay_receive_lag_seconds", "how far what the relay has received is behind the source"),
        ("binlog_relay_relay_lag_seconds", "how far the durable local log is behind the source (the RPO figure)"),
        ("binlog_relay_apply_lag_seconds", "how far the target is behind the source"),
        ("binlog_relay_backlog_bytes", "bytes in the local log not yet applied"),
        ("binlog_relay_backlog_transactions", "transactions in the local log not yet applied"),
        ("binlog_relay_source_clock_offset_seconds", "source clock minus this machine's clock, taken out of lag"),
        ("binlog_relay_target_clock_offset_seconds", "target clock minus this machine's clock"),
        ("binlog_relay_ready", "1 when /readyz answers ready"),
        ("binlog_relay_log_disk_bytes", "bytes of the local log on disk"),
    ]

    static let counterNames: [(String, String)] = [
        ("binlog_relay_bytes_received_total", "binlog bytes received from the source"),
        ("binlog_relay_transactions_received_total", "source transactions received"),
        ("binlog_relay_transactions_applied_total", "source transactions committed on the target"),
        ("binlog_relay_transactions_skipped_total", "source transactions not applied: filtered, or made by a relay (loop prevention)"),
        ("binlog_relay_source_reconnects_total", "times the source connection was lost and opened again"),
    ]

    private let rowsApplied: [String: Counter]
    private let errors: [String: Counter]

    init() {
        var gauges: [String: Gauge] = [:]
        for (name, help) in Self.gaugeNames { gauges[name] = registry.makeGauge(name: name, help: help) }
        self.gauges = gauges
        var counterByName: [String: Counter] = [:]
        for (name, help) in Self.counterNames { counterByName[name] = registry.makeCounter(name: name, help: help) }
        self.counterByName = counterByName
        var rows: [String: Counter] = [:]
        for op in ["insert", "update", "delete"] {
            rows[op] = registry.makeCounter(
                name: "binlog_relay_rows_applied_total", labels: [("op", op)], help: "rows applied to the target by operation")
        }
        rowsApplied = rows
        var errors: [String: Counter] = [:]
        for stage in ["source", "log", "apply"] {
            errors[stage] = registry.makeCounter(
                name: "binlog_relay_errors_total", labels: [("stage", stage)], help: "errors by stage (each retried or stopping)")
        }
        self.errors = errors
        let fsyncBuckets: [Duration] = [
            .microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5),
            .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250), .seconds(1),
        ]
        fsyncSeconds = registry.makeDurationHistogram(
            name: "binlog_relay_log_fsync_seconds", buckets: fsyncBuckets, help: "fdatasync of the local log")
        let batchBuckets: [Duration] = [
            .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50),
            .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2.5), .seconds(5), .seconds(10),
        ]
        applyBatchSeconds = registry.makeDurationHistogram(
            name: "binlog_relay_apply_batch_seconds", buckets: batchBuckets, help: "one batch sent to the target, its round trips included")
    }

    /// Brings every gauge and counter to the values of `report` and the status snapshots.
    func update(report: StatusReport, source: SourceStatus.Snapshot?, applier: ApplierStatus.Snapshot?) {
        func set(_ name: String, _ value: Double?) { gauges[name]?.set(to: value ?? .nan) }
        func set(_ name: String, _ flag: Bool) { gauges[name]?.set(to: flag ? 1.0 : 0.0) }
        set("binlog_relay_source_connected", source?.connected ?? false)
        set("binlog_relay_target_connected", applier?.connected ?? false)
        set("binlog_relay_semi_sync_configured", source?.semiSyncRequested ?? false)
        set("binlog_relay_source_semi_sync_active", source?.sourceSemiSync == .on)
        set("binlog_relay_last_received_event_timestamp_seconds", report.durable?.commitTimestamp)
        set("binlog_relay_last_applied_event_timestamp_seconds", report.applied?.commitTimestamp)
        set("binlog_relay_receive_lag_seconds", report.lag.receive)
        set("binlog_relay_relay_lag_seconds", report.lag.relay)
        set("binlog_relay_apply_lag_seconds", report.lag.apply)
        set("binlog_relay_backlog_bytes", report.backlog.bytes.map(Double.init))
        set("binlog_relay_backlog_transactions", report.backlog.transactions.map(Double.init))
        set("binlog_relay_source_clock_offset_seconds", source?.clockOffset)
        set("binlog_relay_target_clock_offset_seconds", applier?.targetClockOffset?.offset)
        set("binlog_relay_ready", report.ready)
        if let source {
            let closed = source.closedSegments.values.reduce(0, +)
            set("binlog_relay_log_disk_bytes", Double(closed + (source.durable?.location.offset ?? 0)))
        }

        counters.withLock { state in
            func advance(_ key: String, _ counter: Counter?, to value: UInt64) {
                let last = state.last[key] ?? 0
                if value > last { counter?.increment(by: Int64(value - last)) }
                state.last[key] = value
            }
            if let source {
                advance("bytes", counterByName["binlog_relay_bytes_received_total"], to: source.bytesReceived)
                advance("transactions", counterByName["binlog_relay_transactions_received_total"], to: source.transactionsReceived)
                advance("reconnects", counterByName["binlog_relay_source_reconnects_total"], to: source.reconnects)
                advance("source_errors", errors["source"], to: source.reconnects)
                for (code, count) in source.eventsByType.enumerated() where count > 0 {
                    let type = UInt8(code)
                    var entry = state.eventsByType[type] ?? (
                        registry.makeCounter(
                            name: "binlog_relay_events_received_total", labels: [("type", Self.typeLabel(type))],
                            help: "binlog events received from the source, by type"), 0
                    )
                    if count > entry.last { entry.counter.increment(by: Int64(count - entry.last)) }
                    entry.last = count
                    state.eventsByType[type] = entry
                }
                if state.info == nil, !source.serverVersion.isEmpty {
                    state.info = registry.makeGauge(
                        name: "binlog_relay_info",
                        labels: [
                            ("version", BinlogRelayVersion.string), ("source_flavor", source.isMariaDB ? "mariadb" : "mysql"),
                            ("source_version", source.serverVersion),
                        ],
                        help: "the relay's version and its source's flavour (always 1)")
                    state.info?.set(to: 1.0)
                }
            }
            if let applier {
                advance("applied", counterByName["binlog_relay_transactions_applied_total"], to: applier.transactionsApplied)
                advance("skipped", counterByName["binlog_relay_transactions_skipped_total"], to: applier.transactionsSkipped)
                advance("insert", rowsApplied["insert"], to: applier.rowsInserted)
                advance("update", rowsApplied["update"], to: applier.rowsUpdated)
                advance("delete", rowsApplied["delete"], to: applier.rowsDeleted)
                advance("apply_errors", errors["apply"], to: applier.errors)
            }
        }
    }

    /// Counts an error of the local log (the reader stops on it).
    func logError() { errors["log"]?.increment() }

    /// Prometheus text format.
    func exposition() -> [UInt8] {
        var buffer: [UInt8] = []
        buffer.reserveCapacity(16 << 10)
        registry.emit(into: &buffer)
        return buffer
    }

    /// `write_rows_v2` for WRITE_ROWS_EVENT_V2.
    static func typeLabel(_ code: UInt8) -> String {
        var name = EventType(rawValue: code).name.lowercased()
        if let range = name.firstRange(of: "_event") { name.removeSubrange(range) }
        return name
    }
}
