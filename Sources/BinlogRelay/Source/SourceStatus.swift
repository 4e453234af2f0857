import RelayLog
import Synchronization

/// Whether the source's commits currently wait for a semi-sync ACK (from this relay or another
/// semi-sync replica), as the source itself reports it.
enum SourceSemiSyncState: String, Sendable, Equatable {
    /// Not asked for (`--semi-sync` off), or not known yet / the last poll failed.
    case unknown
    /// The source has no semi-sync (MySQL without the plugin).
    case unavailable
    /// `rpl_semi_sync_master_enabled` is OFF: the source commits asynchronously by configuration.
    case disabled
    /// Enabled and `Rpl_semi_sync_master_status` ON: commits wait for a replica's ACK.
    case on
    /// Enabled but `Rpl_semi_sync_master_status` OFF: the source timed out waiting for an ACK (or
    /// has no semi-sync replica) and commits asynchronously until a replica catches up.
    case fellBack

    /// The words the log uses: "source semi-sync: …".
    var words: String {
        switch self {
        case .unknown: "unknown"
        case .unavailable: "off (not available on the source)"
        case .disabled: "off (disabled on the source)"
        case .on: "on"
        case .fellBack: "off (source fell back to async)"
        }
    }
}

/// What the source side is doing, shared with status output and (later) metrics.
final class SourceStatus: Sendable {
    struct Snapshot: Sendable {
        var connected = false
        /// `--semi-sync` was given.
        var semiSyncRequested = false
        /// The current dump is registered as a semi-sync replica.
        var semiSyncActive = false
        var sourceSemiSyncEnabled = false
        /// The source's semi-sync state from its own status variables (see ``SemiSyncMonitor``).
        var sourceSemiSync = SourceSemiSyncState.unknown
        /// When ``sourceSemiSync`` last changed.
        var sourceSemiSyncSince: ContinuousClock.Instant?
        /// The source's counters at the last poll: commits acknowledged by a semi-sync replica,
        /// commits that went without (timeout or fallen back), semi-sync replicas connected.
        var sourceSemiSyncYesTransactions: UInt64?
        var sourceSemiSyncNoTransactions: UInt64?
        var sourceSemiSyncClients: UInt64?
        /// ACKs this relay sent, and the last source position acknowledged (always durable first).
        var acknowledgements: UInt64 = 0
        var lastAcknowledged: SourcePosition?
        var eventsReceived: UInt64 = 0
        var bytesReceived: UInt64 = 0
        var reconnects: UInt64 = 0
        var lastEventTimestamp: UInt32 = 0
        var lastHeartbeatAt: ContinuousClock.Instant?
        var durable: RelayLogPosition?
        var lastFsync: Duration = .zero
        /// Syncs of the local log (each: write + fdatasync), and the time they took in all.
        var syncs: UInt64 = 0
        var fsyncTime: Duration = .zero
    }

    private let state = Mutex(Snapshot())

    var snapshot: Snapshot { state.withLock { $0 } }

    init(semiSyncRequested: Bool = false) {
        state.withLock { $0.semiSyncRequested = semiSyncRequested }
    }

    func connected(semiSync: Bool, sourceSemiSync: Bool) {
        state.withLock {
            $0.connected = true
            $0.semiSyncActive = semiSync
            $0.sourceSemiSyncEnabled = sourceSemiSync
        }
    }

    /// Records a poll of the source's semi-sync state; returns the state before it (the caller logs a change).
    @discardableResult
    func sourceSemiSync(_ probe: SemiSyncProbe) -> SourceSemiSyncState {
        state.withLock {
            let before = $0.sourceSemiSync
            if before != probe.state { $0.sourceSemiSyncSince = .now }
            $0.sourceSemiSync = probe.state
            if probe.state != .unknown { $0.sourceSemiSyncEnabled = probe.state == .on || probe.state == .fellBack }
            $0.sourceSemiSyncYesTransactions = probe.yesTransactions
            $0.sourceSemiSyncNoTransactions = probe.noTransactions
            $0.sourceSemiSyncClients = probe.clients
            return before
        }
    }

    func acknowledged(_ position: SourcePosition) {
        state.withLock {
            $0.acknowledgements += 1
            $0.lastAcknowledged = position
        }
    }

    func connectionLost() {
        state.withLock {
            $0.connected = false
            $0.reconnects += 1
        }
    }

    func disconnected() { state.withLock { $0.connected = false } }

    func received(_ event: UnsafeRawBufferPointer) {
        let timestamp = event.count >= 4 ? event.loadUnaligned(as: UInt32.self) : 0
        state.withLock {
            $0.eventsReceived += 1
            $0.bytesReceived += UInt64(event.count)
            if timestamp != 0 { $0.lastEventTimestamp = UInt32(littleEndian: timestamp) }
        }
    }

    func heartbeat() { state.withLock { $0.lastHeartbeatAt = .now } }

    func synced(_ report: RelayLogWriter.SyncReport) {
        state.withLock {
            if let position = report.position { $0.durable = position }
            $0.lastFsync = report.fsyncDuration
            $0.syncs += 1
            $0.fsyncTime += report.fsyncDuration
        }
    }
}

/// A flag set once from any thread (a stop request).
final class AtomicFlag: Sendable {
    private let value = Atomic<Bool>(false)
    func set() { value.store(true, ordering: .releasing) }
    var isSet: Bool { value.load(ordering: .acquiring) }
}
