import Applier
import BinlogFormat
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
        /// Events received by type code (the binlog's event type byte).
        var eventsByType = [UInt64](repeating: 0, count: 256)
        /// Transaction ends received (XID, COMMIT).
        var transactionsReceived: UInt64 = 0
        var reconnects: UInt64 = 0
        /// Header timestamp (source clock, seconds) of the newest transaction end received: its commit time.
        var lastEventTimestamp: UInt32 = 0
        /// Local wall-clock time (seconds since the epoch) when that transaction end arrived.
        var lastEventArrival: Double = 0
        /// Local wall-clock time of the last heartbeat: the source had nothing newer then.
        var lastHeartbeatArrival: Double = 0
        /// The source file (as of the last sync) and end position of the newest event received.
        var receivedFile = ""
        var receivedPosition: UInt64 = 0
        /// The GTID of the newest transaction received (its GTID event), kept as numbers and
        /// spelt only when asked: MariaDB domain-server-sequence, or a MySQL UUID and number.
        var lastGTID: ReceivedGTID?
        /// Everything received is durable (no event arrived since the last sync).
        var allDurable = true
        var durable: RelayLogPosition?
        /// Sizes of the local log's closed segments by number (the current one ends at `durable`).
        var closedSegments: [Int: Int64] = [:]
        fileprivate var segmentRange: (Int, Int)?
        /// Source server facts from the last connection.
        var serverVersion = ""
        var isMariaDB = true
        /// Source clock minus local clock, in seconds, measured at connect (round-trip corrected).
        var clockOffset: Double?
        var lastFsync: Duration = .zero
        /// Syncs of the local log (each: write + fdatasync), and the time they took in all.
        var syncs: UInt64 = 0
        var fsyncTime: Duration = .zero
    }

    private let state = Mutex(Snapshot())

    var snapshot: Snapshot { state.withLock { $0 } }

    /// Told the duration of every fsync of the local log (the metrics' histogram).
    private let fsyncObserver: (@Sendable (Duration) -> Void)?

    init(semiSyncRequested: Bool = false, fsyncObserver: (@Sendable (Duration) -> Void)? = nil) {
        self.fsyncObserver = fsyncObserver
        state.withLock { $0.semiSyncRequested = semiSyncRequested }
    }

    func connected(semiSync: Bool, sourceSemiSync: Bool, version: String, isMariaDB: Bool, clock: ClockOffset?) {
        state.withLock {
            $0.serverVersion = version
            $0.isMariaDB = isMariaDB
            if let clock { $0.clockOffset = clock.offset }
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

    /// The log's durable end when the process starts (lag and positions before anything arrives).
    func recovered(_ position: RelayLogPosition?) {
        guard let position else { return }
        state.withLock {
            $0.durable = position
            $0.receivedFile = position.source.file
            $0.receivedPosition = position.source.position
        }
    }

    /// Notes the log's segments when they changed (a roll or a purge), for backlog and disk figures.
    func noteSegments(_ segments: [SegmentInfo]) {
        guard let first = segments.first, let last = segments.last else { return }
        state.withLock {
            let key = (first.number, last.number)
            if let range = $0.segmentRange, range == key { return }
            $0.segmentRange = key
            $0.closedSegments = Dictionary(uniqueKeysWithValues: segments.dropLast().map { ($0.number, $0.size) })
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

    /// Counts an event as it arrives (before it is durable). Per event this is a few counters under
    /// the lock; the clock is read once per transaction, at its end, whose header time is the commit.
    func received(_ event: UnsafeRawBufferPointer, endsTransaction: Bool) {
        guard event.count >= 19 else { return }
        let type = event[4]
        // Heartbeats, and the header events a dump starts with (FORMAT_DESCRIPTION, ROTATE, GTID
        // lists, checkpoints: they carry the binlog file's creation time and position), are no
        // transaction's content.
        let isContent = !Self.notContent[Int(type)]
        let timestamp = UInt32(littleEndian: event.loadUnaligned(as: UInt32.self))
        let endPosition = UInt32(littleEndian: event.loadUnaligned(fromByteOffset: 13, as: UInt32.self))
        let now = endsTransaction ? wallClockSeconds() : 0
        let gtid = ReceivedGTID(event: event, type: type)
        state.withLock {
            $0.eventsReceived += 1
            $0.bytesReceived += UInt64(event.count)
            $0.eventsByType[Int(type)] += 1
            guard isContent else { return }
            $0.allDurable = false
            // The file comes from the log's durable position (it follows ROTATE exactly).
            if endPosition != 0 { $0.receivedPosition = UInt64(endPosition) }
            if let gtid { $0.lastGTID = gtid }
            if endsTransaction {
                $0.transactionsReceived += 1
                if timestamp != 0 {
                    $0.lastEventTimestamp = timestamp
                    $0.lastEventArrival = now
                }
            }
        }
    }

    /// Event types that are not part of a transaction, by type code.
    static let notContent: [Bool] = {
        var table = [Bool](repeating: false, count: 256)
        let types: [EventType] = [
            .heartbeat, .heartbeatV2, .startV3, .stop, .rotate, .formatDescription, .previousGTIDs, .mariadbBinlogCheckpoint,
            .mariadbGTIDList, .mariadbStartEncryption,
        ]
        for type in types { table[Int(type.rawValue)] = true }
        return table
    }()

    /// A heartbeat: the source had nothing more; `everythingDurable` when the log has nothing unsynced.
    func heartbeat(everythingDurable: Bool) {
        let now = wallClockSeconds()
        state.withLock {
            if everythingDurable { $0.allDurable = true }
            $0.lastHeartbeatArrival = now
        }
    }

    /// A sync of the local log; `everything` when nothing received waits for a later one.
    func synced(_ report: RelayLogWriter.SyncReport, everything: Bool) {
        state.withLock {
            if let position = report.position {
                $0.durable = position
                $0.receivedFile = position.source.file
                if everything { $0.receivedPosition = position.source.position }
            }
            if everything { $0.allDurable = true }
            $0.lastFsync = report.fsyncDuration
            $0.syncs += 1
            $0.fsyncTime += report.fsyncDuration
        }
        fsyncObserver?(report.fsyncDuration)
    }
}

/// A flag set once from any thread (a stop request).
final class AtomicFlag: Sendable {
    private let value = Atomic<Bool>(false)
    func set() { value.store(true, ordering: .releasing) }
    var isSet: Bool { value.load(ordering: .acquiring) }
}

/// The GTID a GTID event names, read from its fixed fields (no decoding of the rest).
struct ReceivedGTID: Sendable, Equatable, CustomStringConvertible {
    enum Kind: Sendable, Equatable {
        case mariadb(domain: UInt32, server: UInt32, sequence: UInt64)
        case mysql(UUID16, Int64)
    }

    var kind: Kind

    /// MariaDB GTID_EVENT: sequence (8 bytes) and domain (4) open the body, the server is the
    /// header's; MySQL GTID_LOG_EVENT: flags (1), SID (16), GNO (8). Nil for other events.
    init?(event: UnsafeRawBufferPointer, type: UInt8) {
        let body = 19
        if type == EventType.mariadbGTID.rawValue, event.count >= body + 12 {
            kind = .mariadb(
                domain: UInt32(littleEndian: event.loadUnaligned(fromByteOffset: body + 8, as: UInt32.self)),
                server: UInt32(littleEndian: event.loadUnaligned(fromByteOffset: 5, as: UInt32.self)),
                sequence: UInt64(littleEndian: event.loadUnaligned(fromByteOffset: body, as: UInt64.self)))
        } else if type == EventType.gtid.rawValue, event.count >= body + 25 {
            let sid = UUID16(
                high: UInt64(bigEndian: event.loadUnaligned(fromByteOffset: body + 1, as: UInt64.self)),
                low: UInt64(bigEndian: event.loadUnaligned(fromByteOffset: body + 9, as: UInt64.self)))
            kind = .mysql(sid, Int64(littleEndian: event.loadUnaligned(fromByteOffset: body + 17, as: Int64.self)))
        } else {
            return nil
        }
    }

    var description: String {
        switch kind {
        case .mariadb(let domain, let server, let sequence): "\(domain)-\(server)-\(sequence)"
        case .mysql(let sid, let gno): "\(sid):\(gno)"
        }
    }
}
