import Applier
import ArgumentParser
import Logging
import MySQLClient
import SystemPackage

/// The target side's settings, shared by `run` and `apply`. Each also comes from a
/// `BINLOG_RELAY_…` variable when the option is not given.
struct TargetOptions: ParsableArguments {
    @Option(
        name: .customLong("target-url"),
        help: "mysql://user[:password]@host[:port][?ssl-mode=…&ssl-ca=…]; TLS with VERIFY_IDENTITY unless ssl-mode says otherwise (or BINLOG_RELAY_TARGET_URL).")
    var targetURL: String?

    @Option(name: .customLong("channel"), help: "Names this relay's checkpoint on the target (default: default; or BINLOG_RELAY_CHANNEL).")
    var channel: String?

    @Option(name: .customLong("relay-schema"), help: "The relay's own schema on the target, for the checkpoint table (default binlog_relay).")
    var relaySchema: String = "binlog_relay"

    @Option(name: .customLong("include"), help: "Apply only these tables: schema or schema.table, with * and ? wildcards (repeatable).")
    var include: [String] = []

    @Option(name: .customLong("exclude"), help: "Do not apply these tables: schema or schema.table, with * and ? wildcards (repeatable).")
    var exclude: [String] = []

    @Option(name: .customLong("rewrite-schema"), help: "Apply schema FROM into schema TO on the target: FROM=TO (repeatable).")
    var rewriteSchema: [String] = []

    @Option(name: .customLong("batch-bytes"), help: "Commit a target transaction once its statements reach this size; a source transaction that takes a group past twice this size is streamed in pieces.")
    var batchBytes: Int = 4 << 20

    @Option(name: .customLong("batch-transactions"), help: "Group at most this many source transactions into one target transaction.")
    var batchTransactions: Int = 5_000

    @Option(name: .customLong("workers"), help: "Parallel apply over this many target connections (1: one connection).")
    var workers: Int = 1

    /// The applier's settings, or nil when no target is configured.
    func applierConfiguration(logDirectory: String, environment: Environment, logger: Logger) throws -> ApplierConfiguration? {
        guard let url = targetURL ?? environment["BINLOG_RELAY_TARGET_URL"] else { return nil }
        var target: MySQLConnectionConfiguration
        do {
            target = try MySQLConnectionConfiguration(url: url, defaultTLS: .verifyIdentity)
        } catch {
            throw ValidationError("target.url: \(error.message)")
        }
        if let file = environment["BINLOG_RELAY_TARGET_PASSWORD_FILE"] {
            target.password = try readSecret(file, key: "target.password_file")
        }
        if target.tlsMode == .disabled || target.tlsMode == .preferred {
            logger.warning(
                "target.url: ssl-mode=\(target.tlsMode.rawValue): changes may cross the network without verified TLS; use VERIFY_IDENTITY (the default) with ssl-ca")
        }
        var configuration = ApplierConfiguration(target: target, logDirectory: FilePath(logDirectory))
        configuration.channel = channel ?? environment["BINLOG_RELAY_CHANNEL"] ?? "default"
        guard !configuration.channel.isEmpty, configuration.channel.utf8.count <= 64 else {
            throw ValidationError("target.channel: 1 to 64 characters")
        }
        guard !relaySchema.isEmpty, relaySchema.utf8.count <= 64 else { throw ValidationError("target.relay_schema: 1 to 64 characters") }
        configuration.schema = relaySchema
        do {
            configuration.filter = TableFilter(include: include, exclude: exclude, schemaRenames: try TableFilter.renames(rewriteSchema))
        } catch {
            throw ValidationError(error.message)
        }
        guard batchBytes >= 1024 else { throw ValidationError("target.batch_bytes: at least 1024") }
        guard batchTransactions >= 1 else { throw ValidationError("target.batch_transactions: at least 1") }
        guard (1...64).contains(workers) else { throw ValidationError("target.workers: 1 to 64") }
        configuration.batchBytes = batchBytes
        configuration.batchTransactions = batchTransactions
        configuration.workers = workers
        return configuration
    }
}

/// Reads a secret from a file (a Kubernetes or Docker secret), without its trailing newline.
func readSecret(_ path: String, key: String) throws -> String {
    guard let descriptor = try? FileDescriptor.open(FilePath(path), .readOnly) else {
        throw ValidationError("\(key): cannot read \(path)")
    }
    defer { try? descriptor.close() }
    var bytes: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 4096)
    while true {
        let count = try buffer.withUnsafeMutableBytes { try descriptor.read(into: $0) }
        if count == 0 { break }
        bytes.append(contentsOf: buffer[0..<count])
    }
    while let last = bytes.last, last == 0x0A || last == 0x0D { bytes.removeLast() }
    return String(decoding: bytes, as: UTF8.self)
}
