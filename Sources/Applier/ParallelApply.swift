import MySQLClient
import RelayLog

/// Parallel apply: groups go to several target connections and run side by side when their write
/// sets (every unique key value they write) do not overlap, as MySQL's WRITESET dependency
/// tracking allows; they commit in source order.
///
/// - Group `n` runs on worker `(n - 1) % count + 1` (its own connection and its own checkpoint
///   row). It starts once every earlier group it shares a key with has committed, then, its
///   statements executed, waits until group `n - 1` has committed and commits with its checkpoint.
///   Commits therefore follow source order: the checkpoint row with the furthest location is
///   exactly what the target holds, and resuming from it applies nothing twice.
/// - Rows of one key keep their order (a group never overtakes an earlier one that touched them).
/// - A lock a later group holds that an earlier one needs (a gap lock, a key the write set does
///   not know) would make the earlier wait for the later, which waits for the earlier's commit:
///   the short lock wait timeout of the workers' sessions breaks that, the error is transient,
///   and the applier resumes from the checkpoint applying one group at a time for a while.
final class WorkerPool: @unchecked Sendable {
    struct Job {
        var index: Int
        /// The last earlier group that wrote a key this one writes (0: none).
        var dependency: Int
        var worker: Int
        var batch: ApplyBatch
        /// The group in two parts (``ApplyBatch/split(free:)``): the first runs at once, the
        /// second once `dependency` has committed. Nil: `batch` runs once `dependency` has.
        var parts: (now: ApplyBatch, later: ApplyBatch)?
        /// The checkpoint write and COMMIT.
        var commit: [UInt8]
        var checkpoint: Checkpoint
    }

    /// What a worker's session sets besides the row session: row locks only (no gap locks), and a
    /// short lock wait (see the type's comment).
    static let sessionSettings = [
        "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED", "SET SESSION innodb_lock_wait_timeout = 5",
    ]

    private let monitor = Monitor()
    // Guarded by `monitor`.
    private var committed: Int
    private var submitted: Int
    private var queues: [[Job]]
    private var failure: ApplierError?
    private var stopping = false

    private var threads: [BackgroundThread] = []
    let count: Int
    private let status: ApplierStatus

    /// Starts `count` workers, each connecting with `connect` on its own thread (across a slow
    /// link a TLS session takes several round trips: they connect while the first groups are
    /// read, and a group queued for a worker waits for it). A worker that cannot connect fails
    /// the pool: the next ``submit(_:)`` or ``drain()`` throws its error. `connectNow` false:
    /// the workers start with the first group submitted (an applier across a slow link begins
    /// on its own connection, and sessions nobody uses would only load the link).
    init(
        count: Int, status: ApplierStatus, connectNow: Bool = true,
        connect: @escaping @Sendable () throws(ApplierError) -> MySQLConnection
    ) {
        self.count = count
        self.status = status
        self.connect = connect
        committed = 0
        submitted = 0
        queues = Array(repeating: [], count: count + 1)
        if connectNow { start() }
    }

    private let connect: @Sendable () throws(ApplierError) -> MySQLConnection

    /// Starts the worker threads, once (called on the applier's thread only).
    private func start() {
        guard threads.isEmpty else { return }
        for worker in 1...count {
            threads.append(BackgroundThread { [unowned self] in self.work(worker, connect: self.connect) })
        }
    }

    /// The worker a new group goes to.
    var nextWorker: Int { monitor.withLock { submitted % count + 1 } }
    var nextIndex: Int { monitor.withLock { submitted + 1 } }
    var committedIndex: Int { monitor.withLock { committed } }

    /// Queues a group (waits while its worker already has two waiting).
    func submit(_ job: Job) throws(ApplierError) {
        start()
        try monitor.withLock { () throws(ApplierError) in
            while queues[job.worker].count >= 2 && failure == nil { monitor.wait() }
            if let failure { throw failure }
            queues[job.worker].append(job)
            submitted = job.index
            monitor.broadcast()
        }
    }

    /// Waits until every submitted group has committed (or the workers stop).
    func drain() throws(ApplierError) {
        try monitor.withLock { () throws(ApplierError) in
            while committed < submitted && failure == nil && !stopping { monitor.wait() }
            if let failure { throw failure }
        }
    }

    /// Stops the workers (an uncommitted group is rolled back when its connection closes).
    func shutdown() {
        monitor.withLock {
            stopping = true
            monitor.broadcast()
        }
        for thread in threads { thread.join() }
        threads.removeAll()
    }

    var firstFailure: ApplierError? { monitor.withLock { failure } }

    private func fail(_ error: ApplierError) {
        monitor.withLock {
            if failure == nil { failure = error }
            monitor.broadcast()
        }
    }

    private func work(_ worker: Int, connect: @Sendable () throws(ApplierError) -> MySQLConnection) {
        let connection: MySQLConnection
        do {
            // Row locks only (no gap locks), and a short wait (see the type's comment): `connect`
            // sets them in the session's first round trip.
            connection = try connect()
        } catch {
            fail(error)
            return
        }
        var countedRoundTrips = 0
        defer {
            status.countRoundTrips(of: connection, counted: &countedRoundTrips)
            connection.close()
        }
        let bulkSession = BulkSession()
        /// Runs `batch` and checks its counts; false when it failed (the pool then stops).
        func run(_ batch: ApplyBatch) -> Bool {
            do throws(ApplierError) {
                let outcome: MySQLConnection.BatchOutcome
                if batch.bulks.isEmpty {
                    outcome = batch.sql.bytes.withUnsafeBytes { connection.executeBatch($0) }
                } else {
                    // Its bulk INSERTs between queries (Wire); the group commits later.
                    var wire = Wire(bulks: true, session: bulkSession)
                    try wire.append(batch)
                    wire.finish(committed: false)
                    outcome = wire.execute(on: connection)
                }
                try ApplyBatch.check(outcome, of: batch)
                return true
            } catch {
                fail(error)
                return false
            }
        }
        /// Waits until group `index` has committed; false when the pool stops first.
        func waitFor(_ index: Int) -> Bool {
            monitor.withLock {
                while !stopping && failure == nil && committed < index { monitor.wait() }
                return !stopping && failure == nil
            }
        }
        while true {
            // Take the next group, and wait until the groups it depends on have committed (a
            // group in parts: only its second part waits).
            let job: Job? = monitor.withLock {
                while !stopping && failure == nil {
                    if let first = queues[worker].first, first.parts != nil || committed >= first.dependency {
                        return first
                    }
                    monitor.wait()
                }
                return nil
            }
            guard let job else { return }
            let started = ContinuousClock.now
            if let (now, later) = job.parts {
                guard run(now), waitFor(job.dependency), run(later) else { return }
            } else {
                guard run(job.batch) else { return }
            }
            // Commit in source order.
            let mayCommit: Bool = monitor.withLock {
                while !stopping && failure == nil && committed != job.index - 1 { monitor.wait() }
                return !stopping && failure == nil
            }
            guard mayCommit else { return }
            var commit = job.commit
            // Turned off by a wire with bulk INSERTs (Wire): on again once committed.
            if bulkSession.takeAutocommitBackOn() { commit.append(contentsOf: ";SET autocommit=1".utf8) }
            let outcome = commit.withUnsafeBytes { connection.executeBatch($0) }
            if let error = outcome.error {
                fail(ApplierError(error.isTransient ? .connection : .target, "cannot commit a group", server: error))
                return
            }
            let elapsed = ContinuousClock.now - started
            status.recordBatch(job.batch, took: elapsed, committed: job.checkpoint)
            status.countRoundTrips(of: connection, counted: &countedRoundTrips)
            monitor.withLock {
                committed = job.index
                queues[worker].removeFirst()
                monitor.broadcast()
            }
        }
    }
}

/// Which earlier group last wrote each key: a group depends on the latest of those for its keys.
struct WriteSetHistory {
    private var lastWriter: [Int: Int] = [:]

    /// Records `keys` as written by group `index`; returns the group it must wait for (0: none).
    mutating func record(_ keys: [Int], index: Int, committed: Int) -> Int {
        if lastWriter.count > 1 << 20 {
            // Forget keys whose writer has committed: they hold nothing up any more.
            lastWriter = lastWriter.filter { $0.value > committed }
        }
        var dependency = 0
        for key in keys {
            // A key the group itself wrote before is no dependency.
            if let writer = lastWriter[key], writer > dependency, writer < index { dependency = writer }
            lastWriter[key] = index
        }
        return dependency
    }

    /// The last group recorded as writing `key` (0: none).
    func writer(of key: Int) -> Int { lastWriter[key] ?? 0 }

    mutating func reset() { lastWriter.removeAll() }
}
