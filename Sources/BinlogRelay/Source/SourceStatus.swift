import RelayLog
import Synchronization

/// What the source side is doing, shared with status output and (later) metrics.
final class SourceStatus: Sendable {
    struct Snapshot: Sendable {
        var connected = false
        var semiSyncActive = false
        var sourceSemiSyncEnabled = false
        var eventsReceived: UInt64 = 0
        var bytesReceived: UInt64 = 0
        var reconnects: UInt64 = 0
        var lastEventTimestamp: UInt32 = 0
        var lastHeartbeatAt: ContinuousClock.Instant?
        var durable: RelayLogPosition?
        var lastFsync: Duration = .zero
    }

    private let state = Mutex(Snapshot())

    var snapshot: Snapshot { state.withLock { $0 } }

    func connected(semiSync: Bool, sourceSemiSync: Bool) {
        state.withLock {
            $0.connected = true
            $0.semiSyncActive = semiSync
            $0.sourceSemiSyncEnabled = sourceSemiSync
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
        }
    }
}

/// A flag set once from any thread (a stop request).
final class AtomicFlag: Sendable {
    private let value = Atomic<Bool>(false)
    func set() { value.store(true, ordering: .releasing) }
    var isSet: Bool { value.load(ordering: .acquiring) }
}
