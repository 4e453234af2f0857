import Applier
import RelayLog
import Synchronization

/// Everything the HTTP side reads about a running relay: the source reader's and the applier's
/// status, the log's durable frontier, and the relay's own state (running, promoting, stopping).
/// Each report is computed at the moment it is asked for, so lag grows between two events.
final class RelayMonitor: Sendable {
    struct Configuration: Sendable {
        var sourceEndpoint: String?
        var targetEndpoint: String?
        var channel: String = "default"
        var heartbeatPeriod: Double = 1
        var readyMaxLagSeconds: Double = 60
        var logDirectory: String?
    }

    enum Phase: String, Sendable {
        case running, promoting, promoted, stopping
    }

    let configuration: Configuration
    let source: SourceStatus?
    let applier: ApplierStatus?
    let frontier: LogFrontier
    private let phase = Mutex(Phase.running)
    private let startedAt = wallClockSeconds()

    init(configuration: Configuration, source: SourceStatus?, applier: ApplierStatus?, frontier: LogFrontier) {
        self.configuration = configuration
        self.source = source
        self.applier = applier
        self.frontier = frontier
    }

    var currentPhase: Phase { phase.withLock { $0 } }
    func setPhase(_ next: Phase) { phase.withLock { $0 = next } }

    func report(now: Double = wallClockSeconds()) -> StatusReport {
        let sourceSnapshot = source?.snapshot
        let applierSnapshot = applier?.snapshot
        let durableLocation = frontier.durable ?? sourceSnapshot?.durable?.location
        let readLocation = applierSnapshot?.readLocation ?? applierSnapshot?.applied?.location
        let applyPending: Bool =
            if let durableLocation, let readLocation { readLocation < durableLocation } else { false }

        let durable = sourceSnapshot?.durable
        let durableCommit = durable.map(Self.commitSeconds) ?? 0
        let inputs = LagInputs(
            now: now, sourceClockOffset: sourceSnapshot?.clockOffset ?? 0, heartbeatPeriod: configuration.heartbeatPeriod,
            lastHeartbeatArrival: sourceSnapshot?.lastHeartbeatArrival ?? 0,
            lastEventArrival: sourceSnapshot?.lastEventArrival ?? 0,
            lastEventCommit: Double(sourceSnapshot?.lastEventTimestamp ?? 0),
            allDurable: sourceSnapshot?.allDurable ?? true, durableCommit: durableCommit,
            hasTarget: applier != nil,
            appliedCommit: applierSnapshot?.applied.map { Double($0.commitMicroseconds) / 1e6 } ?? 0,
            applyPending: applyPending)
        // Without a source attached (`promote` of a stopped relay) there is no source clock to measure against.
        let lag = source != nil ? Lag(inputs) : Lag(receive: nil, durable: nil, apply: nil)

        var report = StatusReport(
            version: BinlogRelayVersion.string, state: "starting", ready: false, notReadyReason: nil, time: now,
            uptimeSeconds: now - startedAt,
            lag: .init(receive: lag.receive, relay: lag.durable, apply: lag.apply),
            backlog: .init(), logDirectory: configuration.logDirectory)

        if let sourceSnapshot, let endpoint = configuration.sourceEndpoint {
            report.source = .init(
                endpoint: endpoint, connected: sourceSnapshot.connected,
                flavor: sourceSnapshot.serverVersion.isEmpty ? nil : (sourceSnapshot.isMariaDB ? "MariaDB" : "MySQL"),
                version: sourceSnapshot.serverVersion.isEmpty ? nil : sourceSnapshot.serverVersion,
                semiSync: Self.semiSyncWord(sourceSnapshot),
                clockOffsetSeconds: sourceSnapshot.clockOffset, reconnects: sourceSnapshot.reconnects,
                eventsReceived: sourceSnapshot.eventsReceived, bytesReceived: sourceSnapshot.bytesReceived,
                secondsSinceHeartbeat: sourceSnapshot.lastHeartbeatArrival > 0 ? now - sourceSnapshot.lastHeartbeatArrival : nil)
            if !sourceSnapshot.receivedFile.isEmpty {
                report.received = .init(
                    file: sourceSnapshot.receivedFile, position: sourceSnapshot.receivedPosition,
                    lastGtid: sourceSnapshot.lastGTID?.description,
                    commitTimestamp: sourceSnapshot.lastEventTimestamp > 0 ? Double(sourceSnapshot.lastEventTimestamp) : durableCommit)
            }
        }
        if let durable {
            report.durable = .init(
                file: durable.source.file, position: durable.source.position, gtid: durable.gtidState.description,
                log: durable.location.description, commitTimestamp: durableCommit > 0 ? durableCommit : nil)
        }
        if let applierSnapshot, let endpoint = configuration.targetEndpoint {
            report.target = .init(
                endpoint: endpoint, channel: configuration.channel, connected: applierSnapshot.connected,
                state: applierSnapshot.state.rawValue, tlsCipher: applierSnapshot.tlsCipher,
                clockOffsetSeconds: applierSnapshot.targetClockOffset?.offset,
                transactionsApplied: applierSnapshot.transactionsApplied, transactionsSkipped: applierSnapshot.transactionsSkipped,
                rowsInserted: applierSnapshot.rowsInserted, rowsUpdated: applierSnapshot.rowsUpdated,
                rowsDeleted: applierSnapshot.rowsDeleted, lastError: applierSnapshot.lastError)
            if let applied = applierSnapshot.applied {
                report.applied = .init(
                    file: applied.source.file, position: applied.source.position, gtid: applied.gtid.description,
                    log: applied.location.description,
                    commitTimestamp: applied.commitMicroseconds > 0 ? Double(applied.commitMicroseconds) / 1e6 : nil)
            }
            if let durableLocation, let readLocation {
                report.backlog.bytes = applyPending ? backlogBytes(from: readLocation, to: durableLocation, sourceSnapshot) : 0
            }
            if !applyPending {
                report.backlog.transactions = 0
            } else if let durable, let applied = applierSnapshot.applied {
                report.backlog.transactions = durable.gtidState.transactionCount(after: applied.gtid)
            }
        }

        // State and readiness.
        let phase = currentPhase
        let sourceConnected = sourceSnapshot?.connected ?? false
        let applierFailed = applierSnapshot.map { $0.state == .failed } ?? false
        switch phase {
        case .promoting: report.state = "promoting"
        case .promoted: report.state = "promoted"
        case .stopping: report.state = "stopping"
        case .running:
            if source != nil && !sourceConnected {
                report.state = (sourceSnapshot?.reconnects ?? 0) == 0 && (sourceSnapshot?.eventsReceived ?? 0) == 0
                    ? "starting" : "source_disconnected"
            } else if applierFailed || applierSnapshot?.state == .retrying {
                report.state = applierFailed ? "apply_failed" : "apply_retrying"
            } else if let applyLag = report.lag.apply, applyLag > 2 * configuration.heartbeatPeriod + 1 {
                report.state = "catching_up"
            } else if let receive = report.lag.receive, receive > 2 * configuration.heartbeatPeriod + 1 {
                report.state = "catching_up"
            } else {
                report.state = "replicating"
            }
        }
        var reasons: [String] = []
        if phase != .running { reasons.append("relay is \(phase.rawValue)") }
        if source != nil && !sourceConnected { reasons.append("source not connected") }
        if let applierSnapshot {
            if !applierSnapshot.connected { reasons.append("target not connected") }
            if applierFailed { reasons.append("applier stopped on an error") }
            if let apply = report.lag.apply, apply > configuration.readyMaxLagSeconds {
                reasons.append("apply lag \(StatusReport.seconds(apply)) over \(StatusReport.seconds(configuration.readyMaxLagSeconds))")
            } else if report.lag.apply == nil {
                reasons.append("apply lag unknown")
            }
        }
        report.ready = reasons.isEmpty
        report.notReadyReason = reasons.isEmpty ? nil : reasons.joined(separator: "; ")
        return report
    }

    /// Bytes of the local log from the applier's position to the durable end.
    private func backlogBytes(from start: RelayLogLocation, to end: RelayLogLocation, _ source: SourceStatus.Snapshot?) -> Int64? {
        if start.segment == end.segment { return max(0, end.offset - start.offset) }
        guard let closed = source?.closedSegments else { return nil }
        var total: Int64 = 0
        for number in start.segment..<end.segment {
            guard let size = closed[number] else { return nil }
            total += number == start.segment ? max(0, size - start.offset) : size
        }
        return total + end.offset
    }

    static func commitSeconds(_ position: RelayLogPosition) -> Double {
        if let micros = position.commitTimestampMicroseconds, micros > 0 { return Double(micros) / 1e6 }
        return Double(position.timestamp)
    }

    static func semiSyncWord(_ snapshot: SourceStatus.Snapshot) -> String {
        guard snapshot.semiSyncRequested else { return "not_requested" }
        switch snapshot.sourceSemiSync {
        case .unknown: return "unknown"
        case .unavailable: return "unavailable"
        case .disabled: return "disabled"
        case .on: return "on"
        case .fellBack: return "fell_back"
        }
    }
}
