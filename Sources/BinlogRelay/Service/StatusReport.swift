import Foundation

/// What `GET /status` returns and `binlog-relay status` prints: positions as file:pos and GTID set
/// for what is received, durable and applied; lag by stage; backlog; state. Field names are part of
/// the HTTP contract (docs/metrics.md).
struct StatusReport: Codable, Sendable, Equatable {
    struct Position: Codable, Sendable, Equatable {
        /// Source binlog file and position.
        var file: String?
        var position: UInt64?
        var gtid: String?
        /// For what is received: the GTID of the newest transaction received (one GTID; `gtid`
        /// holds the whole GTID position/set for what is durable and applied).
        var lastGtid: String?
        /// The local log's segment:offset, where it applies.
        var log: String?
        /// Source commit time of the newest transaction at this position (seconds since the epoch).
        var commitTimestamp: Double?
    }

    struct Source: Codable, Sendable, Equatable {
        var endpoint: String
        var connected: Bool
        var flavor: String?
        var version: String?
        /// on, off (disabled on the source), fell_back, unavailable, unknown, or not_requested.
        var semiSync: String
        var clockOffsetSeconds: Double?
        var reconnects: UInt64
        var eventsReceived: UInt64
        var bytesReceived: UInt64
        var secondsSinceHeartbeat: Double?
    }

    struct Target: Codable, Sendable, Equatable {
        var endpoint: String
        var channel: String
        var connected: Bool
        var state: String
        var tlsCipher: String?
        var clockOffsetSeconds: Double?
        var transactionsApplied: UInt64
        var transactionsSkipped: UInt64
        var rowsInserted: UInt64
        var rowsUpdated: UInt64
        var rowsDeleted: UInt64
        var lastError: String?
    }

    struct LagSeconds: Codable, Sendable, Equatable {
        var receive: Double?
        var relay: Double?
        var apply: Double?
    }

    struct Backlog: Codable, Sendable, Equatable {
        var bytes: Int64?
        var transactions: UInt64?
    }

    var version: String
    /// replicating, catching_up, source_disconnected, apply_failed, promoting, promoted, stopping, starting.
    var state: String
    var ready: Bool
    /// Why not ready (empty when ready).
    var notReadyReason: String?
    var time: Double
    var uptimeSeconds: Double
    var source: Source?
    var target: Target?
    var received: Position?
    var durable: Position?
    var applied: Position?
    var lag: LagSeconds
    var backlog: Backlog
    var logDirectory: String?

    static func decode(_ bytes: [UInt8]) throws -> StatusReport {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return try decoder.decode(StatusReport.self, from: Data(bytes))
    }

    func encoded(pretty: Bool = false) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = pretty ? [.prettyPrinted, .sortedKeys] : [.sortedKeys]
        return (try? Array(encoder.encode(self))) ?? Array("{}".utf8)
    }

    /// The same for a person (`binlog-relay status`).
    var text: String {
        var lines: [String] = []
        lines.append("state:     \(state)\(ready ? " (ready)" : " (not ready\(notReadyReason.map { ": \($0)" } ?? ""))")")
        if let source {
            var words = source.connected ? "connected" : "DISCONNECTED"
            if let flavor = source.flavor, let version = source.version { words += ", \(flavor) \(version)" }
            words += ", semi-sync \(source.semiSync.replacingUnderscores)"
            if let offset = source.clockOffsetSeconds { words += ", clock offset \(Self.seconds(offset))" }
            lines.append("source:    \(source.endpoint) (\(words))")
        }
        if let target {
            var words = target.connected ? "connected" : "DISCONNECTED"
            words += ", applier \(target.state)"
            if let cipher = target.tlsCipher { words += ", TLS \(cipher)" } else if target.connected { words += ", no TLS" }
            lines.append("target:    \(target.endpoint) channel \(target.channel) (\(words))")
            if let error = target.lastError { lines.append("           last error: \(error)") }
        }
        func position(_ label: String, _ position: Position?) {
            guard let position else { return }
            var text = "\(label)"
            if let file = position.file, let offset = position.position { text += "\(file):\(offset)" }
            if let gtid = position.gtid, !gtid.isEmpty { text += "  gtid \(gtid)" }
            if let last = position.lastGtid { text += "  last gtid \(last)" }
            if let log = position.log { text += "  (log \(log))" }
            lines.append(text)
        }
        position("received:  ", received)
        position("durable:   ", durable)
        position("applied:   ", applied)
        var lagText = "lag:       receive \(Self.optionalSeconds(lag.receive)), durable \(Self.optionalSeconds(lag.relay))"
        if target != nil { lagText += ", apply \(Self.optionalSeconds(lag.apply))" }
        lines.append(lagText)
        if backlog.bytes != nil || backlog.transactions != nil {
            lines.append(
                "backlog:   \(backlog.bytes.map { "\($0) bytes" } ?? "? bytes"), \(backlog.transactions.map { "\($0) transactions" } ?? "? transactions")")
        }
        if let target {
            lines.append(
                "totals:    \(target.transactionsApplied) transactions, rows +\(target.rowsInserted) ~\(target.rowsUpdated) -\(target.rowsDeleted) since start")
        }
        return lines.joined(separator: "\n")
    }

    static func seconds(_ value: Double) -> String {
        let rounded = (value * 1000).rounded() / 1000
        return "\(rounded) s"
    }

    static func optionalSeconds(_ value: Double?) -> String { value.map(seconds) ?? "unknown" }
}

extension String {
    fileprivate var replacingUnderscores: String { String(map { $0 == "_" ? " " : $0 }) }
}
