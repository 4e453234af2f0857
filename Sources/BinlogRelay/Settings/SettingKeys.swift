/// Every setting the relay knows, in one table: the YAML key, how its value is read, and whether it
/// is a secret. Unknown YAML keys and unknown `BINLOG_RELAY_…` variables are found against it, and
/// `run --check-config` prints the effective value of each.
struct SettingKey: Sendable, Hashable {
    enum Kind: Sendable, Hashable {
        case text, integer, size, seconds, flag, list
    }

    /// The YAML key, dotted: `source.url`.
    let name: String
    let kind: Kind
    /// The environment variable that sets it (the variable wins over the file).
    var environmentName: String { "BINLOG_RELAY_" + name.uppercased().replacingDots() }
    /// An older or shorter variable name also accepted (DESIGN.md's `BINLOG_RELAY_SERVER_ID`).
    let alias: String?
    /// A value that may carry a password (URLs): printed masked.
    let holdsSecret: Bool

    init(_ name: String, _ kind: Kind, alias: String? = nil, holdsSecret: Bool = false) {
        self.name = name
        self.kind = kind
        self.alias = alias
        self.holdsSecret = holdsSecret
    }

    static let all: [SettingKey] = [
        SettingKey("source.url", .text, holdsSecret: true),
        SettingKey("source.password_file", .text),
        SettingKey("source.server_id", .integer, alias: "BINLOG_RELAY_SERVER_ID"),
        SettingKey("source.start", .text),
        SettingKey("source.heartbeat", .seconds),
        SettingKey("source.semi_sync", .flag),
        SettingKey("source.semi_sync_poll_interval", .seconds),
        SettingKey("target.url", .text, holdsSecret: true),
        SettingKey("target.password_file", .text),
        SettingKey("target.channel", .text, alias: "BINLOG_RELAY_CHANNEL"),
        SettingKey("target.relay_schema", .text),
        SettingKey("target.include", .list),
        SettingKey("target.exclude", .list),
        SettingKey("target.rewrite_schema", .list),
        SettingKey("target.batch_bytes", .size),
        SettingKey("target.batch_transactions", .integer),
        SettingKey("target.workers", .integer),
        SettingKey("log.dir", .text),
        SettingKey("log.sync_interval_ms", .integer),
        SettingKey("log.sync_max_delay_ms", .integer),
        SettingKey("log.segment_size", .size),
        SettingKey("log.retention_hours", .seconds),
        SettingKey("log.retention_max_bytes", .size),
        SettingKey("seed.connections", .integer),
        SettingKey("seed.replace", .flag),
        SettingKey("seed.piece_rows", .integer),
        SettingKey("seed.piece_bytes", .size),
        SettingKey("seed.progress", .text),
        SettingKey("http.listen", .text),
        SettingKey("http.ready_max_lag_seconds", .seconds),
        SettingKey("logging.level", .text),
        SettingKey("logging.format", .text),
    ]

    static let byName: [String: SettingKey] = Dictionary(uniqueKeysWithValues: all.map { ($0.name, $0) })

    /// Variables that are read directly, not settings (kept out of the unknown-variable warning).
    static let otherVariables: Set<String> = []
}

extension String {
    fileprivate func replacingDots() -> String {
        String(map { $0 == "." ? "_" : $0 })
    }
}
