import Applier
import Logging
import MySQLClient

/// The effective settings of a relay: every key of ``SettingKey/all`` resolved from the command
/// line, the environment and the YAML file (in that order of strength), checked, with defaults.
struct RelaySettings: Sendable {
    struct Source: Sendable {
        var connection: MySQLConnectionConfiguration
        var serverID: UInt32
        var start: SourceReader.StartPoint
        var startText: String
        /// `source.start` was set (not the default): after a seed it must agree with the seed.
        var startIsExplicit: Bool
        var heartbeatSeconds: Double
        var semiSync: Bool
        var semiSyncPollSeconds: Double
    }

    struct Target: Sendable {
        var connection: MySQLConnectionConfiguration
        var channel: String
        var relaySchema: String
        var filter: TableFilter
        var batchBytes: Int
        var batchTransactions: Int
        var workers: Int
    }

    struct Log: Sendable {
        var directory: String
        var syncIntervalMilliseconds: Int
        var syncMaxDelayMilliseconds: Int
        var segmentSize: Int64
        var retentionHours: Double
        var retentionMaxBytes: Int64?
    }

    struct HTTP: Sendable {
        var host: String
        var port: Int
        /// `/readyz` fails while the apply lag is above this.
        var readyMaxLagSeconds: Double
        var listen: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
    }

    struct Seed: Sendable {
        var connections: Int
        var replace: Bool
        var pieceRows: Int
        var pieceBytes: Int
        var progress: String
    }

    enum LogFormat: String, Sendable { case text, json }

    var source: Source?
    var target: Target?
    var log: Log?
    var http: HTTP
    var seed: Seed
    var logLevel: Logger.Level
    var logFormat: LogFormat
    /// Each key's effective value as `--check-config` prints it (secrets masked) and its origin.
    var effective: [(key: String, value: String, origin: SettingsSources.Origin)] = []
    var warnings: [String] = []

    static let defaultListen = "127.0.0.1:9104"

    /// Resolves and checks every setting. `require` names the parts the command cannot do without.
    init(sources: SettingsSources, require: Set<Part> = []) throws(SettingsError) {
        var reader = Resolver(sources: sources)

        let sourceURL = try reader.text("source.url")
        if let sourceURL {
            var connection: MySQLConnectionConfiguration
            do {
                connection = try MySQLConnectionConfiguration(url: sourceURL)
            } catch {
                throw SettingsError("source.url: \(error.message)")
            }
            if let file = try reader.text("source.password_file") {
                connection.password = try Self.readSecret(file, key: "source.password_file")
            }
            // Needed to stream (`run`), not to query the source (`promote`, `verify`): checked below.
            let serverID = try reader.integer("source.server_id", in: 1...Int(UInt32.max)) ?? 0
            let startText = try reader.text("source.start", default: "current")
            let startIsExplicit = reader.effective.last?.origin != .defaultValue
            guard let start = SourceReader.StartPoint(startText) else {
                throw SettingsError("source.start: '\(startText)' is not current, earliest, FILE:POS or a GTID position")
            }
            source = Source(
                connection: connection, serverID: UInt32(serverID), start: start, startText: startText,
                startIsExplicit: startIsExplicit,
                heartbeatSeconds: try reader.seconds("source.heartbeat", default: 1, in: 0.1...3600),
                semiSync: try reader.flag("source.semi_sync", default: false),
                semiSyncPollSeconds: try reader.seconds("source.semi_sync_poll_interval", default: 2, in: 0.1...3600))
        } else {
            for key in ["source.password_file", "source.server_id", "source.start", "source.heartbeat", "source.semi_sync", "source.semi_sync_poll_interval"] {
                _ = try reader.text(key)
            }
        }

        if let targetURL = try reader.text("target.url") {
            var connection: MySQLConnectionConfiguration
            do {
                connection = try MySQLConnectionConfiguration(url: targetURL, defaultTLS: .verifyIdentity)
            } catch {
                throw SettingsError("target.url: \(error.message)")
            }
            if let file = try reader.text("target.password_file") {
                connection.password = try Self.readSecret(file, key: "target.password_file")
            }
            if connection.tlsMode == .disabled || connection.tlsMode == .preferred {
                warnings.append(
                    "target.url: ssl-mode=\(connection.tlsMode.rawValue): changes may cross the network without verified TLS; use VERIFY_IDENTITY (the default) with ssl-ca")
            }
            let channel = try reader.text("target.channel", default: "default")
            guard (1...64).contains(channel.utf8.count) else { throw SettingsError("target.channel: 1 to 64 characters") }
            let schema = try reader.text("target.relay_schema", default: "binlog_relay")
            guard (1...64).contains(schema.utf8.count) else { throw SettingsError("target.relay_schema: 1 to 64 characters") }
            let filter: TableFilter
            do {
                filter = TableFilter(
                    include: try reader.list("target.include"), exclude: try reader.list("target.exclude"),
                    schemaRenames: try TableFilter.renames(try reader.list("target.rewrite_schema")))
            } catch let error as SettingsError {
                throw error
            } catch let error as ApplierError {
                throw SettingsError("target.rewrite_schema: \(error.message)")
            } catch {
                throw SettingsError("target.rewrite_schema: \(error)")
            }
            target = Target(
                connection: connection, channel: channel, relaySchema: schema, filter: filter,
                batchBytes: Int(try reader.size("target.batch_bytes", default: 4 << 20, atLeast: 1024)),
                batchTransactions: try reader.integer("target.batch_transactions", in: 1...1_000_000) ?? 5_000,
                workers: try reader.integer("target.workers", in: 1...64) ?? 1)
        } else {
            for key in ["target.password_file", "target.channel", "target.relay_schema", "target.batch_bytes", "target.batch_transactions", "target.workers"] {
                _ = try reader.text(key)
            }
            for key in ["target.include", "target.exclude", "target.rewrite_schema"] { _ = try reader.list(key) }
        }

        let directory = try reader.text("log.dir")
        let syncInterval = try reader.integer("log.sync_interval_ms", in: 0...60_000) ?? 0
        let syncMaxDelay = try reader.integer("log.sync_max_delay_ms", in: 0...60_000) ?? 50
        let segmentSize = try reader.size("log.segment_size", default: 256 << 20, atLeast: 1 << 20)
        let retentionHours = try reader.seconds("log.retention_hours", default: 168, in: 0...1_000_000)
        let retentionMaxBytes = try reader.optionalSize("log.retention_max_bytes", atLeast: 1 << 20)
        if let directory {
            log = Log(
                directory: directory, syncIntervalMilliseconds: syncInterval, syncMaxDelayMilliseconds: syncMaxDelay,
                segmentSize: segmentSize, retentionHours: retentionHours, retentionMaxBytes: retentionMaxBytes)
        }

        let listen = try reader.text("http.listen", default: Self.defaultListen)
        guard let (host, port) = Self.hostAndPort(listen) else {
            throw SettingsError("http.listen: '\(listen)' is not host:port (for example 127.0.0.1:9104, 0.0.0.0:9104 or [::]:9104)")
        }
        http = HTTP(
            host: host, port: port,
            readyMaxLagSeconds: try reader.seconds("http.ready_max_lag_seconds", default: 60, in: 0...1_000_000))

        let progress = try reader.text("seed.progress", default: "auto")
        guard ["auto", "bars", "lines", "none"].contains(progress) else {
            throw SettingsError("seed.progress: '\(progress)' is not auto, bars, lines or none")
        }
        seed = Seed(
            connections: try reader.integer("seed.connections", in: 1...64) ?? 4,
            replace: try reader.flag("seed.replace", default: false),
            pieceRows: try reader.integer("seed.piece_rows", in: 1...10_000_000) ?? 50_000,
            pieceBytes: Int(try reader.size("seed.piece_bytes", default: 8 << 20, atLeast: 64 << 10)),
            progress: progress)

        let level = try reader.text("logging.level", default: "info")
        guard let logLevel = Logger.Level(rawValue: level.lowercased()) else {
            throw SettingsError("logging.level: '\(level)' is not one of trace, debug, info, notice, warning, error, critical")
        }
        self.logLevel = logLevel
        let format = try reader.text("logging.format", default: "text")
        guard let logFormat = LogFormat(rawValue: format.lowercased()) else {
            throw SettingsError("logging.format: '\(format)' is not text or json")
        }
        self.logFormat = logFormat

        effective = reader.effective
        warnings += sources.unknownVariables.map {
            "\($0) is set but names no setting (the variables are \(SettingKey.all.first!.environmentName), …; see docs/configuration.md)"
        }

        if require.contains(.source) {
            guard let source else {
                throw SettingsError("source.url: required (mysql://user@host:port; BINLOG_RELAY_SOURCE_URL, or source.url in the config file)")
            }
            guard source.serverID > 0 else {
                throw SettingsError(
                    "source.server_id: required with a source (a number from 1 to 4294967295, unique among the source's replicas; BINLOG_RELAY_SERVER_ID)")
            }
        }
        if require.contains(.target), target == nil {
            throw SettingsError("target.url: required (mysql://user@host:port?ssl-ca=…; BINLOG_RELAY_TARGET_URL, or target.url in the config file)")
        }
        if require.contains(.log), log == nil {
            throw SettingsError("log.dir: required (the directory of the durable local log; BINLOG_RELAY_LOG_DIR, or log.dir in the config file)")
        }
    }

    enum Part: Sendable { case source, target, log }

    /// `host:port`, `[v6]:port`; nil when it is neither.
    static func hostAndPort(_ text: String) -> (String, Int)? {
        var host: Substring
        let portText: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]"), text[text.index(after: close)...].hasPrefix(":") else { return nil }
            host = text[text.index(after: text.startIndex)..<close]
            portText = text[text.index(close, offsetBy: 2)...]
        } else {
            guard let colon = text.lastIndex(of: ":") else { return nil }
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
        }
        if host.isEmpty { host = "0.0.0.0" }
        guard let port = Int(portText), (0...65535).contains(port) else { return nil }
        return (String(host), port)
    }

    /// Reads a secret from a file (a Kubernetes or Docker secret), without its trailing newline.
    static func readSecret(_ path: String, key: String) throws(SettingsError) -> String {
        var bytes = try SettingsSources.readFile(path, what: key)
        while let last = bytes.last, last == 0x0A || last == 0x0D { bytes.removeLast() }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The `--check-config` listing: one line per setting, secrets masked, and where it came from.
    var report: String {
        let width = effective.map(\.key.count).max() ?? 0
        var lines = effective.map { item in
            let padding = String(repeating: " ", count: width - item.key.count)
            return "\(item.key)\(padding)  \(item.value)  (\(item.origin.rawValue))"
        }
        lines += warnings.map { "warning: \($0)" }
        return lines.joined(separator: "\n")
    }
}

/// Typed reads with errors that name the key; records each effective value for the report.
private struct Resolver {
    let sources: SettingsSources
    var effective: [(key: String, value: String, origin: SettingsSources.Origin)] = []

    init(sources: SettingsSources) { self.sources = sources }

    private mutating func raw(_ name: String) throws(SettingsError) -> (SettingsSources.Value, SettingsSources.Origin)? {
        guard let key = SettingKey.byName[name] else { preconditionFailure("unknown setting \(name)") }
        return try sources.value(key).map { ($0.value, $0.origin) }
    }

    private mutating func record(_ name: String, _ value: String, _ origin: SettingsSources.Origin) {
        let key = SettingKey.byName[name]!
        effective.append((name, key.holdsSecret ? Self.masked(url: value) : value, origin))
    }

    mutating func text(_ name: String) throws(SettingsError) -> String? {
        guard let (value, origin) = try raw(name) else { return nil }
        guard case .text(let text) = value else { throw SettingsError("\(name): must be a single value, not a list") }
        let trimmed = text.trimmingSpaces
        guard !trimmed.isEmpty else { return nil }
        record(name, trimmed, origin)
        return trimmed
    }

    mutating func text(_ name: String, default fallback: String) throws(SettingsError) -> String {
        if let value = try text(name) { return value }
        record(name, fallback, .defaultValue)
        return fallback
    }

    mutating func list(_ name: String) throws(SettingsError) -> [String] {
        guard let (value, origin) = try raw(name) else { return [] }
        let items: [String]
        switch value {
        case .list(let list): items = list.map(\.trimmingSpaces).filter { !$0.isEmpty }
        case .text(let text): items = text.split(separator: ",").map { String($0).trimmingSpaces }.filter { !$0.isEmpty }
        }
        if !items.isEmpty { record(name, "[" + items.joined(separator: ", ") + "]", origin) }
        return items
    }

    mutating func integer(_ name: String, in range: ClosedRange<Int>) throws(SettingsError) -> Int? {
        guard let text = try text(name) else { return nil }
        guard let value = Int(text), range.contains(value) else {
            throw SettingsError("\(name): '\(text)' is not a whole number from \(range.lowerBound) to \(range.upperBound)")
        }
        return value
    }

    mutating func seconds(_ name: String, default fallback: Double, in range: ClosedRange<Double>) throws(SettingsError) -> Double {
        guard let text = try text(name) else {
            record(name, Self.format(fallback), .defaultValue)
            return fallback
        }
        guard let value = Double(text), value.isFinite, range.contains(value) else {
            throw SettingsError("\(name): '\(text)' is not a number from \(Self.format(range.lowerBound)) to \(Self.format(range.upperBound))")
        }
        return value
    }

    mutating func flag(_ name: String, default fallback: Bool) throws(SettingsError) -> Bool {
        guard let text = try text(name) else {
            record(name, String(fallback), .defaultValue)
            return fallback
        }
        switch text.lowercased() {
        case "true", "yes", "on", "1": return true
        case "false", "no", "off", "0": return false
        default: throw SettingsError("\(name): '\(text)' is not true or false")
        }
    }

    mutating func size(_ name: String, default fallback: Int64, atLeast minimum: Int64) throws(SettingsError) -> Int64 {
        if let value = try optionalSize(name, atLeast: minimum) { return value }
        record(name, String(fallback), .defaultValue)
        return fallback
    }

    /// Bytes, or with a unit: `256MiB`, `4M`, `1GiB`, `512k` (powers of 1024).
    mutating func optionalSize(_ name: String, atLeast minimum: Int64) throws(SettingsError) -> Int64? {
        guard let text = try text(name) else { return nil }
        let digits = text.prefix { $0.isNumber }
        let unit = text.dropFirst(digits.count).trimmingSpaces.lowercased()
        let multipliers: [String: Int64] = [
            "": 1, "b": 1, "k": 1 << 10, "kb": 1 << 10, "kib": 1 << 10, "m": 1 << 20, "mb": 1 << 20, "mib": 1 << 20,
            "g": 1 << 30, "gb": 1 << 30, "gib": 1 << 30, "t": 1 << 40, "tb": 1 << 40, "tib": 1 << 40,
        ]
        guard let number = Int64(digits), let multiplier = multipliers[unit],
            case let (value, overflow) = number.multipliedReportingOverflow(by: multiplier), !overflow, value >= minimum
        else {
            throw SettingsError("\(name): '\(text)' is not a size of at least \(minimum) bytes (bytes, or with KiB, MiB, GiB)")
        }
        return value
    }

    static func format(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(value)
    }

    /// A URL with its password replaced by `****`.
    static func masked(url: String) -> String {
        guard let scheme = url.firstRange(of: "://") else { return url }
        let rest = url[scheme.upperBound...]
        guard let at = rest.lastIndex(of: "@") else { return url }
        let userInfo = rest[..<at]
        guard let colon = userInfo.firstIndex(of: ":") else { return url }
        return String(url[..<scheme.upperBound]) + userInfo[..<colon] + ":****" + rest[at...]
    }
}

extension String {
    var trimmingSpaces: String {
        var text = Substring(self)
        while let first = text.first, first.isWhitespace { text.removeFirst() }
        while let last = text.last, last.isWhitespace { text.removeLast() }
        return String(text)
    }
}

extension Substring {
    var trimmingSpaces: String { String(self).trimmingSpaces }
}
