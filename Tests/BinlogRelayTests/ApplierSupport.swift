import Foundation
import MySQLClient
import TestSupport
import Testing

/// A source server, a target server that offers TLS with a certificate signed by a CA made at test
/// time, and a local log directory: what every applier test starts with. The relay reaches the
/// source in plaintext and the target with `ssl-ca=<ca>` (the target default, VERIFY_IDENTITY).
final class ApplyPair: @unchecked Sendable {
    let certificates: TestCertificates
    let source: MariaDBSandbox
    let target: MariaDBSandbox
    /// A temporary directory holding the log and the programs' output.
    let work: URL
    let log: URL
    /// The target's mariadbd options (TLS, server id 2), for restarting it.
    let targetOptions: [String]

    init(sourceOptions: [String] = [], targetOptions: [String] = []) throws {
        certificates = try TestCertificates.make()
        source = try MariaDBSandbox.start(sourceOptions)
        self.targetOptions = certificates.serverOptions + ["--server-id=2"] + targetOptions
        target = try MariaDBSandbox.start(self.targetOptions)
        work = SourceRelayTests.temporaryDirectory("apply")
        log = work.appendingPathComponent("log")
    }

    func stop() {
        source.stop()
        target.stop()
        certificates.remove()
        try? FileManager.default.removeItem(at: work)
    }

    var sourceURL: String { "mysql://root@127.0.0.1:\(source.port)?ssl-mode=DISABLED" }

    /// The target's URL; by default root over TLS verified with the test CA.
    func targetURL(user: String = "root", password: String? = nil, query: String? = nil) -> String {
        var url = "mysql://\(user)"
        if let password { url += ":\(password)" }
        return url + "@127.0.0.1:\(target.port)?" + (query ?? "ssl-ca=\(certificates.ca)")
    }

    func output(_ name: String) -> String {
        work.appendingPathComponent("\(name)-\(UUID().uuidString.prefix(6)).out").path
    }

    /// A counter of the final `applied` line of `binlog-relay apply` (`groups_in_parts=`,
    /// `pipelined=`), or -1 when the output has none.
    static func summaryCounter(_ name: String, in output: String) -> Int {
        guard let range = output.range(of: "\(name)=(\\d+)", options: .regularExpression) else { return -1 }
        return Int(output[range].dropFirst(name.count + 1)) ?? -1
    }

    /// A slow link: Benchmarks/scripts/delay-proxy.py in front of the target, adding `rttMs` of
    /// round trip. Returns the proxy (to kill) and the target URL through it.
    func delayedTarget(rttMs: Int) throws -> (proxy: ChildProcess, url: String) {
        let port = MariaDBSandbox.reservePort()
        let proxy = try ChildProcess(
            "/usr/bin/env",
            ["python3", Repository.root.appendingPathComponent("Benchmarks/scripts/delay-proxy.py").path,
             "--listen", "127.0.0.1:\(port)", "--connect", "127.0.0.1:\(target.port)", "--rtt-ms", String(rttMs)],
            output: output("proxy"))
        #expect(Replication.wait(timeout: 10) { proxy.output.contains("listening") }, "\(proxy.output)")
        return (proxy, "mysql://root@127.0.0.1:\(port)?ssl-ca=\(certificates.ca)")
    }

    /// `binlog-relay run` from the source into the log and, with `targetURL`, onto the target.
    func relay(
        targetURL: String?, extra: [String] = [], exitWhenCaughtUp: Bool = false, serverID: Int = 4001,
        environment: [String: String] = [:]
    ) throws -> ChildProcess {
        var arguments = ["run", "--http-listen", "127.0.0.1:0", "--log-dir", log.path, "--server-id", String(serverID), "--start", "earliest"]
        if let targetURL { arguments += ["--target-url", targetURL] }
        if exitWhenCaughtUp { arguments.append("--exit-when-caught-up") }
        var environment = environment
        environment["BINLOG_RELAY_SOURCE_URL"] = sourceURL
        return try ChildProcess(SourceRelayTests.executable, arguments + extra, environment: environment, output: output("run"))
    }

    /// Relays everything the source holds now into the log (no target) and returns.
    func fillLog() throws {
        let relay = try relay(targetURL: nil, exitWhenCaughtUp: true)
        let code = relay.wait(seconds: 120)
        relay.killIfRunning()
        #expect(code == 0, "filling the log: \(relay.output)")
    }

    /// `binlog-relay apply --until-end`; returns the exit code and everything it printed.
    func apply(
        targetURL: String? = nil, extra: [String] = [], environment: [String: String] = [:]
    ) throws -> (code: Int32?, output: String) {
        let process = try ChildProcess(
            SourceRelayTests.executable,
            ["apply", "--log-dir", log.path, "--until-end", "--target-url", targetURL ?? self.targetURL()] + extra,
            environment: environment, output: output("apply"))
        let code = process.wait(seconds: 180)
        if code == nil { process.killIfRunning() }
        return (code, process.output)
    }

    /// Runs SQL text on the source with the `mariadb` client (as `record.sh` runs every-type.sql).
    func sourceSQL(_ text: String) throws {
        try ApplyPair.runSQL(source, text)
    }

    static func runSQL(_ server: MariaDBSandbox, _ text: String) throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("sql-\(getpid())-\(UUID().uuidString.prefix(8)).sql")
        try text.write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        let result = try runProgram(
            "/bin/bash",
            [
                "-c", "exec mariadb --no-defaults --default-character-set=utf8mb4 -h127.0.0.1 -P\(server.port) -uroot --batch < \"$1\"",
                "run-sql", file.path,
            ])
        guard result.status == 0 else {
            throw TestFailure("mariadb client failed (\(result.status)): \(result.errorText)")
        }
    }

    /// What the differences helper says of these schemas (source name → target name).
    func differences(_ schemas: [(String, String)], tables: [String]? = nil) throws -> [String] {
        let sourceConnection = try source.connect()
        let targetConnection = try target.connect()
        defer {
            sourceConnection.close()
            targetConnection.close()
        }
        var problems: [String] = []
        for (from, to) in schemas {
            problems += try SchemaComparison.differences(.init(sourceConnection, from), .init(targetConnection, to), tables: tables)
        }
        return problems
    }

    func differences(_ schemas: [String]) throws -> [String] { try differences(schemas.map { ($0, $0) }) }
}

/// The checkpoint row a channel keeps on a target.
struct CheckpointRow: Equatable {
    var gtidSet: String
    var transactions: Int
    var sourceFile: String
    var sourcePosition: Int
    var pending: Bool

    /// The channel's (furthest) row in `binlog_relay.checkpoint`, or nil.
    static func read(_ server: MariaDBSandbox, channel: String = "default") throws -> CheckpointRow? {
        let connection = try server.connect()
        defer { connection.close() }
        let exists = try connection.query(
            "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'binlog_relay' AND TABLE_NAME = 'checkpoint'"
        ).scalar
        guard exists == "1" else { return nil }
        let rows = try connection.query(
            // With parallel apply (--workers) one row per worker: the furthest is the target's position.
            "SELECT gtid_set, transactions, source_file, source_position, pending_segment IS NOT NULL FROM binlog_relay.checkpoint WHERE channel = '\(connection.escape(channel))' ORDER BY log_segment DESC, log_offset DESC, worker LIMIT 1"
        ).rows
        guard let row = rows.first else { return nil }
        return CheckpointRow(
            gtidSet: row[0] ?? "", transactions: Int(row[1] ?? "") ?? -1, sourceFile: row[2] ?? "",
            sourcePosition: Int(row[3] ?? "") ?? -1, pending: row[4] == "1")
    }
}

enum Replication {
    /// A GTID position as a set of its items (order-free).
    static func gtidItems(_ text: String) -> Set<String> {
        Set(text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty })
    }

    static func gtidBinlogPos(_ server: MariaDBSandbox) throws -> String {
        let connection = try server.connect()
        defer { connection.close() }
        return try connection.query("SELECT @@gtid_binlog_pos").scalar ?? ""
    }

    /// The GTID groups (transactions and standalone statements) in the server's binlog, counted
    /// from `SHOW BINLOG EVENTS`, each with the first event after its GTID event.
    static func binlogTransactions(_ server: MariaDBSandbox) throws -> [(gtid: String, first: String)] {
        let connection = try server.connect()
        defer { connection.close() }
        var groups: [(gtid: String, first: String)] = []
        var open = false
        for file in try connection.query("SHOW BINARY LOGS").rows.compactMap({ $0[0] ?? nil }) {
            for row in try connection.query("SHOW BINLOG EVENTS IN '\(file)'").rows {
                let type = row[2] ?? ""
                let info = row[5] ?? ""
                if type == "Gtid" {
                    groups.append((info, ""))
                    open = true
                } else if open, type != "Annotate_rows", !(type == "Query" && info == "BEGIN") {
                    groups[groups.count - 1].first = type + ": " + info
                    open = false
                }
            }
        }
        return groups
    }

    /// Whether a binlog group (from ``binlogTransactions``) was made by a relay applying to this server.
    static func isRelayMade(_ first: String) -> Bool {
        first.contains("/* binlog-relay */") || first.contains("(binlog_relay.")
    }

    /// Polls until the channel's checkpoint on `target` holds the source's whole @@gtid_binlog_pos
    /// (everything the source committed is applied), the relay process ends, or `timeout` passes.
    @discardableResult
    static func waitUntilApplied(
        source: MariaDBSandbox, target: MariaDBSandbox, channel: String = "default", timeout: Double = 90,
        relay: ChildProcess? = nil
    ) throws -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            let wanted = gtidItems(try gtidBinlogPos(source))
            if let row = try? CheckpointRow.read(target, channel: channel), gtidItems(row.gtidSet) == wanted {
                return true
            }
            if let relay, !relay.isRunning { return false }
            Thread.sleep(forTimeInterval: 0.1)
        }
        return false
    }

    /// Polls `condition` until it holds or `timeout` passes.
    static func wait(timeout: Double, _ condition: () throws -> Bool) rethrows -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if try condition() { return true }
            Thread.sleep(forTimeInterval: 0.1)
        }
        return try condition()
    }
}

/// A test's own precondition that did not hold (a tool failed, a fixture changed).
struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

extension Array where Element == String {
    /// The first lines of a list of problems, for an expectation's message.
    var summary: String {
        let shown = prefix(20).joined(separator: "\n")
        return count > 20 ? shown + "\n… \(count - 20) more" : shown
    }
}

/// Runs numbered transactions on a server from a thread of its own until stopped (or `limit`),
/// pausing `pause` after each so the workload spans the test's events.
final class PacedWriter: @unchecked Sendable {
    let server: MariaDBSandbox
    let transaction: @Sendable (Int) -> [String]
    let pause: Double
    let limit: Int
    private let lock = NSLock()
    private var stopRequested = false
    private var joined = false
    private var done = 0
    private var failure: (any Error)?
    private let finished = DispatchSemaphore(value: 0)

    init(server: MariaDBSandbox, pause: Double = 0.002, limit: Int = .max, transaction: @escaping @Sendable (Int) -> [String]) {
        self.server = server
        self.pause = pause
        self.limit = limit
        self.transaction = transaction
    }

    var count: Int { lock.withLock { done } }
    var error: (any Error)? { lock.withLock { failure } }

    func start() {
        Thread.detachNewThread { [self] in
            do {
                let connection = try server.connect()
                var index = 0
                var retries = 0
                while index < limit && !lock.withLock({ stopRequested }) {
                    do {
                        for statement in transaction(index) { try connection.execute(statement) }
                    } catch let error as MySQLError where [1205, 1213].contains(error.number) && retries < 20 {
                        // A deadlock or lock wait with another session (a relay applying to this
                        // server): roll back and run the transaction again, as an application would.
                        try? connection.execute("ROLLBACK")
                        retries += 1
                        continue
                    }
                    retries = 0
                    index += 1
                    lock.withLock { done = index }
                    if pause > 0 { Thread.sleep(forTimeInterval: pause) }
                }
                connection.close()
            } catch {
                lock.withLock { failure = error }
            }
            finished.signal()
        }
    }

    /// Asks the writer to stop after its current transaction and waits for it.
    func stop() {
        lock.withLock { stopRequested = true }
        join()
    }

    /// Waits until the writer has finished (its limit reached, stopped, or failed).
    func join() {
        let first = lock.withLock { () -> Bool in
            defer { joined = true }
            return !joined
        }
        if first { finished.wait() }
    }
}
