import MySQLClient
import RelayLog
import Synchronization

/// How far the local log is durable, published by the source side after each fsync and read by
/// the applier: it never reads past it, so nothing it applies can be taken back by a crash.
public final class LogFrontier: Sendable {
    private struct State {
        var durable: RelayLogLocation?
        var finished = false
    }

    private let state: Mutex<State>

    public init(durable: RelayLogLocation? = nil, finished: Bool = false) {
        state = Mutex(State(durable: durable, finished: finished))
    }

    /// The end of the last durable transaction.
    public var durable: RelayLogLocation? { state.withLock { $0.durable } }
    /// No more will come (the source side stopped): an applier told to stop at the end may.
    public var isFinished: Bool { state.withLock { $0.finished } }

    public func advance(to location: RelayLogLocation) {
        state.withLock { state in
            if state.durable.map({ $0 < location }) ?? true { state.durable = location }
        }
    }

    public func finish() { state.withLock { $0.finished = true } }
}

/// What the applier is doing, for status output and metrics.
public final class ApplierStatus: Sendable {
    public enum State: String, Sendable {
        case starting, applying, idle, retrying, failed, stopped
    }

    public struct Snapshot: Sendable {
        public var state = State.starting
        public var connected = false
        /// The last checkpoint committed on the target.
        public var applied: Checkpoint?
        /// Where the applier has read to (past skipped transactions not yet checkpointed).
        public var readLocation: RelayLogLocation?
        public var transactionsApplied: UInt64 = 0
        /// Source transactions not applied: filtered out, or written by a relay (loop prevention).
        public var transactionsSkipped: UInt64 = 0
        public var rowsInserted: UInt64 = 0
        public var rowsUpdated: UInt64 = 0
        public var rowsDeleted: UInt64 = 0
        public var statementsApplied: UInt64 = 0
        public var batches: UInt64 = 0
        /// Groups a worker ran in two parts, the first beside the groups before it (parallel
        /// apply, see ``ApplyBatch/split(free:)``).
        public var groupsInParts: UInt64 = 0
        /// Groups sent behind another whose answer had not come yet (see `Applier.pipelines`).
        public var groupsPipelined: UInt64 = 0
        /// Queries sent to the target (each a round trip), on every connection of the applier.
        public var roundTrips: UInt64 = 0
        public var batchTime: Duration = .zero
        public var lastBatch: Duration = .zero
        public var retries: UInt64 = 0
        public var errors: UInt64 = 0
        public var lastError: String?
        public var tlsCipher: String?
        /// Target clock minus local clock, measured at connect.
        public var targetClockOffset: ClockOffset?
    }

    private let state = Mutex(Snapshot())
    /// Told the duration of every batch sent to the target (the metrics' histogram).
    private let batchObserver: (@Sendable (Duration) -> Void)?

    public init(batchObserver: (@Sendable (Duration) -> Void)? = nil) {
        self.batchObserver = batchObserver
    }

    public var snapshot: Snapshot { state.withLock { $0 } }

    func update(_ body: (inout Snapshot) -> Void) { state.withLock { body(&$0) } }

    /// Counts the round trips `connection` made since `counted`, which it then becomes.
    func countRoundTrips(of connection: MySQLConnection, counted: inout Int) {
        let made = connection.roundTrips - counted
        guard made > 0 else { return }
        counted = connection.roundTrips
        state.withLock { $0.roundTrips += UInt64(made) }
    }

    /// Counts a batch sent to the target; with `committed`, the target transaction it ended.
    func recordBatch(_ batch: ApplyBatch, took elapsed: Duration, committed: Checkpoint?) {
        state.withLock {
            $0.rowsInserted += UInt64(batch.rowsInserted)
            $0.rowsUpdated += UInt64(batch.rowsUpdated)
            $0.rowsDeleted += UInt64(batch.rowsDeleted)
            $0.batchTime += elapsed
            $0.lastBatch = elapsed
            $0.batches += 1
            if let committed {
                $0.applied = committed
                $0.transactionsApplied += UInt64(batch.transactionsEnded)
            }
        }
        batchObserver?(elapsed)
    }
}
