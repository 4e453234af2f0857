/// Replication lag on the source's clock, by stage (DESIGN.md: receive, durable, apply apart).
///
/// What the relay knows at a given moment is "the source's binlog up to time T": T is the commit
/// time of the newest event it holds, or, when a heartbeat came after that event, the time of the
/// heartbeat (the source had nothing newer then). Lag is the source's now minus T: an idle source
/// whose heartbeats arrive shows 0, a cut link shows lag growing second by second from the last
/// thing heard, a backlog being caught up shows the age of what is being read.
struct LagInputs: Sendable {
    /// Local wall clock, seconds since the epoch.
    var now: Double
    /// Source clock minus local clock (0 when unknown).
    var sourceClockOffset: Double
    var heartbeatPeriod: Double
    /// Local arrival time of the last heartbeat (0: none yet).
    var lastHeartbeatArrival: Double
    /// Local arrival time and source commit time (seconds) of the newest event that was not a heartbeat.
    var lastEventArrival: Double
    var lastEventCommit: Double
    /// Everything received is in the local log, fsynced.
    var allDurable: Bool
    /// Source commit time of the newest transaction durable in the local log (0: none).
    var durableCommit: Double
    /// With a target: source commit time of the newest transaction committed there (0: none),
    /// and whether the log holds transactions the applier has not reached yet.
    var hasTarget: Bool
    var appliedCommit: Double
    var applyPending: Bool
}

struct Lag: Sendable, Equatable {
    /// Source → relay's memory.
    var receive: Double?
    /// Source → local log, fsynced: the RPO figure (`binlog_relay_relay_lag_seconds`).
    var durable: Double?
    /// Source → target.
    var apply: Double?

    init(receive: Double?, durable: Double?, apply: Double?) {
        self.receive = receive
        self.durable = durable
        self.apply = apply
    }

    init(_ inputs: LagInputs) {
        let sourceNow = inputs.now + inputs.sourceClockOffset
        // The latest source time the relay is sure it has everything up to. A heartbeat says the
        // source had nothing newer when it was sent, and the next is due a period later: until
        // then (with some slack for jitter) the relay is caught up: lag 0. After that, each second
        // without one is a second of lag (a cut link or a stalled source).
        var knownThrough = max(inputs.lastEventCommit, inputs.durableCommit)
        if inputs.lastHeartbeatArrival > 0 && inputs.lastHeartbeatArrival >= inputs.lastEventArrival {
            knownThrough = max(
                knownThrough, inputs.lastHeartbeatArrival + inputs.sourceClockOffset + inputs.heartbeatPeriod * 1.1 + 0.05)
        }
        if knownThrough > 0 {
            receive = max(0, sourceNow - knownThrough)
        } else {
            receive = nil
        }
        if let receive, !inputs.allDurable, inputs.durableCommit > 0 {
            durable = max(receive, sourceNow - inputs.durableCommit)
        } else {
            durable = receive
        }
        guard inputs.hasTarget else {
            apply = nil
            return
        }
        if inputs.applyPending {
            let applied = inputs.appliedCommit > 0 ? inputs.appliedCommit : inputs.durableCommit
            apply = applied > 0 ? max(durable ?? 0, sourceNow - applied) : durable
        } else {
            // The target holds everything the log holds: it is as far behind as the log.
            apply = durable
        }
    }
}
