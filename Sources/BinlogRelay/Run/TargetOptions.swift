import Applier
import ArgumentParser
import Logging
import MySQLClient
import SystemPackage

/// `--config FILE` and the logging options every long-running command takes. A setting given as
/// an option wins over its `BINLOG_RELAY_…` variable, which wins over the file.
struct ConfigOptions: ParsableArguments {
    @Option(name: .customLong("config"), help: "YAML settings file (docs/configuration.md); BINLOG_RELAY_… variables override it.")
    var configFile: String?

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error, critical (logging.level).")
    var logLevel: String?

    @Option(name: .customLong("log-format"), help: "text or json: one JSON object per line (logging.format).")
    var logFormat: String?

    var overrides: [String: SettingsSources.Value] {
        var values: [String: SettingsSources.Value] = [:]
        values["logging.level"] = logLevel.map { .text($0) }
        values["logging.format"] = logFormat.map { .text($0) }
        return values
    }

    /// Resolves the settings from the options, the environment and the file; a bad setting is a
    /// usage error naming the key.
    func settings(_ options: [String: SettingsSources.Value], require: Set<RelaySettings.Part> = []) throws -> RelaySettings {
        do {
            let sources = try SettingsSources(
                options: overrides.merging(options) { first, _ in first }, environment: Environment().values,
                configFile: configFile)
            return try RelaySettings(sources: sources, require: require)
        } catch {
            throw ValidationError(error.description)
        }
    }
}

/// Which tables the relay works on and where they go, shared by every command that applies,
/// seeds or compares them (so all read the same selection the same way).
struct SelectionOptions: ParsableArguments {
    @Option(name: .customLong("relay-schema"), help: "The relay's own schema on the target: its checkpoint, never replicated nor compared (target.relay_schema, default binlog_relay).")
    var relaySchema: String?

    @Option(name: .customLong("include"), help: "Only these tables: schema or schema.table, with * and ? wildcards (repeatable; target.include).")
    var include: [String] = []

    @Option(name: .customLong("exclude"), help: "Not these tables: schema or schema.table, with * and ? wildcards (repeatable; target.exclude).")
    var exclude: [String] = []

    @Option(name: .customLong("rewrite-schema"), help: "Schema FROM on the source is schema TO on the target: FROM=TO (repeatable; target.rewrite_schema).")
    var rewriteSchema: [String] = []

    var overrides: [String: SettingsSources.Value] {
        var values: [String: SettingsSources.Value] = [:]
        values["target.relay_schema"] = relaySchema.map { .text($0) }
        if !include.isEmpty { values["target.include"] = .list(include) }
        if !exclude.isEmpty { values["target.exclude"] = .list(exclude) }
        if !rewriteSchema.isEmpty { values["target.rewrite_schema"] = .list(rewriteSchema) }
        return values
    }
}

/// The target side's options, shared by `run`, `apply`, `promote` and `seed`.
struct TargetOptions: ParsableArguments {
    @Option(
        name: .customLong("target-url"),
        help: "mysql://user[:password]@host[:port][?ssl-mode=…&ssl-ca=…]; TLS with VERIFY_IDENTITY unless ssl-mode says otherwise (target.url).")
    var targetURL: String?

    @Option(name: .customLong("channel"), help: "Names this relay's checkpoint on the target (default: default; target.channel).")
    var channel: String?

    @OptionGroup
    var selection: SelectionOptions

    @Option(name: .customLong("batch-bytes"), help: "Commit a target transaction once its statements reach this size (default 4MiB).")
    var batchBytes: String?

    @Option(name: .customLong("batch-transactions"), help: "Group at most this many source transactions into one target transaction (default 5000).")
    var batchTransactions: Int?

    @Option(name: .customLong("workers"), help: "Parallel apply over this many target connections (default 1).")
    var workers: Int?

    var overrides: [String: SettingsSources.Value] {
        var values = selection.overrides
        values["target.url"] = targetURL.map { .text($0) }
        values["target.channel"] = channel.map { .text($0) }
        values["target.batch_bytes"] = batchBytes.map { .text($0) }
        values["target.batch_transactions"] = batchTransactions.map { .text(String($0)) }
        values["target.workers"] = workers.map { .text(String($0)) }
        return values
    }
}

extension RelaySettings.Target {
    func applierConfiguration(logDirectory: String) -> ApplierConfiguration {
        var configuration = ApplierConfiguration(target: connection, logDirectory: FilePath(logDirectory))
        configuration.channel = channel
        configuration.schema = relaySchema
        configuration.filter = filter
        configuration.batchBytes = batchBytes
        configuration.batchTransactions = batchTransactions
        configuration.workers = workers
        return configuration
    }
}

extension RelaySettings {
    /// Logging as the settings say (level, text or JSON lines), for the whole process.
    func bootstrapLogging() {
        let level = logLevel
        let format = logFormat
        LoggingSystem.bootstrap { label in
            var handler: any LogHandler =
                format == .json ? JSONLogHandler(label: label) : StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
    }

    func logger(_ label: String) -> Logger {
        var logger = Logger(label: label)
        logger.logLevel = logLevel
        return logger
    }
}
