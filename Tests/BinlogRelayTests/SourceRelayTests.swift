import BinlogFormat
import Foundation
import MySQLClient
import RelayLog
import SystemPackage
import TestSupport
import Testing

/// `binlog-relay run` with only a source, against a real MariaDB started by the test.
@Suite("Source to local log", .serialized)
struct SourceRelayTests {
    static var executable: String { FixturePaths.repositoryRoot.appendingPathComponent(".build/debug/binlog-relay").path }

    static func temporaryDirectory(_ name: String) -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("\(name)-\(getpid())-\(UUID().uuidString.prefix(6))")
        try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    static func relay(_ server: MariaDBSandbox, log: URL, output: URL, extra: [String] = [], user: String = "root",
                      password: String? = nil) throws -> ChildProcess {
        var url = "mysql://\(user)"
        if let password { url += ":\(password)" }
        url += "@127.0.0.1:\(server.port)?ssl-mode=DISABLED"
        return try ChildProcess(
            executable, ["run", "--log-dir", log.path, "--server-id", "901", "--start", "earliest", "--http-listen", "127.0.0.1:0"] + extra,
            environment: ["BINLOG_RELAY_SOURCE_URL": url], output: output.path)
    }

    /// Events of a binlog file in order (after the magic).
    static func events(of data: [UInt8]) -> [ArraySlice<UInt8>] {
        var result: [ArraySlice<UInt8>] = []
        var offset = 4
        while offset + 19 <= data.count {
            let size = Int(data[offset + 9]) | Int(data[offset + 10]) << 8 | Int(data[offset + 11]) << 16 | Int(data[offset + 12]) << 24
            guard size >= 19, offset + size <= data.count else { break }
            result.append(data[offset..<(offset + size)])
            offset += size
        }
        return result
    }

    /// The source's events as the relay log holds them: every event of the relay's segments
    /// except those the relay made itself (flag 0x40).
    static func relayedEvents(_ log: URL) throws -> [ArraySlice<UInt8>] {
        let names = try FileManager.default.contentsOfDirectory(atPath: log.path).filter { $0.hasSuffix(".bin") }.sorted()
        return try names.flatMap { name in
            events(of: [UInt8](try Data(contentsOf: log.appendingPathComponent(name))))
                .filter { $0[$0.startIndex + 17] & 0x40 == 0 }
        }
    }

    /// Compares, FORMAT_DESCRIPTIONs aside from their flags and checksum (an open file's FDE
    /// carries the in-use flag the stream clears).
    static func sameEvents(_ ours: [ArraySlice<UInt8>], _ theirs: [ArraySlice<UInt8>]) -> (Bool, String) {
        guard ours.count == theirs.count else { return (false, "relay log has \(ours.count) events, source \(theirs.count)") }
        for (index, (a, b)) in zip(ours, theirs).enumerated() {
            if a[a.startIndex + 4] == 15 && b[b.startIndex + 4] == 15 {
                if a.dropFirst(19).dropLast(4).elementsEqual(b.dropFirst(19).dropLast(4)) { continue }
            }
            if !a.elementsEqual(b) { return (false, "event \(index) (type \(a[a.startIndex + 4]) vs \(b[b.startIndex + 4])) differs") }
        }
        return (true, "")
    }

    static func sourceEvents(_ server: MariaDBSandbox) throws -> [ArraySlice<UInt8>] {
        try server.binlogFiles().flatMap { events(of: [UInt8]($0.1)) }
    }

    @Test("a workload streams through: the log's events equal the source's binlog byte for byte, in order")
    func streamsWorkload() throws {
        let server = try MariaDBSandbox.start()
        defer { server.stop() }
        try server.execute(Workload.schema + Workload.transactions(0..<200))
        let log = Self.temporaryDirectory("relay-log")
        defer { try? FileManager.default.removeItem(at: log) }
        let output = log.appendingPathComponent("relay.out")
        let relay = try Self.relay(server, log: log, output: output, extra: ["--exit-when-caught-up"])
        #expect(relay.wait() == 0, "\(relay.output)")
        let (same, why) = Self.sameEvents(try Self.relayedEvents(log), try Self.sourceEvents(server))
        #expect(same, "\(why)")
        // `inspect` reads the relay's own log directory (its state and lock files are skipped).
        let inspected = try runProgram(Self.executable, ["inspect", "--format", "jsonl", log.path])
        #expect(inspected.status == 0)
        let sourceCount = try Self.sourceEvents(server).count
        #expect(inspected.output.lines().filter { !$0.isEmpty }.count >= sourceCount)
        // Every segment is a binlog file the decoder (and mysqlbinlog) reads whole.
        for name in try FileManager.default.contentsOfDirectory(atPath: log.path) where name.hasSuffix(".bin") {
            let data = try Data(contentsOf: log.appendingPathComponent(name))
            let summary = data.withUnsafeBytes { DecodeSummary.of($0, file: name) }
            #expect(summary.error == nil)
        }
    }

    @Test("kill -9 of the relay at random moments, 20 times, during a workload: nothing missing, nothing doubled")
    func killNineTwentyTimes() throws {
        let server = try MariaDBSandbox.start(["--max-binlog-size=65536"])
        defer { server.stop() }
        try server.execute(Workload.schema)
        let log = Self.temporaryDirectory("relay-kill")
        defer { try? FileManager.default.removeItem(at: log) }
        let output = log.appendingPathComponent("relay.out")
        let writer = Workload.Writer(server: server, transactions: 0..<1500)
        writer.start()
        var generator = SystemRandomNumberGenerator()
        for round in 0..<20 {
            let relay = try Self.relay(server, log: log, output: output)
            Thread.sleep(forTimeInterval: Double.random(in: 0.15...0.9, using: &generator))
            relay.signal(SIGKILL)
            #expect(relay.wait() == 128 + SIGKILL, "round \(round): the relay ended before the kill: \(relay.output)")
        }
        writer.wait()
        #expect(writer.error == nil, "\(String(describing: writer.error))")
        let last = try Self.relay(server, log: log, output: output, extra: ["--exit-when-caught-up"])
        #expect(last.wait() == 0, "\(last.output)")
        let (same, why) = Self.sameEvents(try Self.relayedEvents(log), try Self.sourceEvents(server))
        #expect(same, "\(why)")
        #expect(try server.binlogFiles().count > 3, "the workload spans several source binlogs")
    }

    @Test("a source restart and a cut connection mid-stream: the relay reconnects and the log still equals the binlog")
    func sourceRestart() throws {
        let server = try MariaDBSandbox.start()
        defer { server.stop() }
        try server.execute(Workload.schema + Workload.transactions(0..<100))
        let log = Self.temporaryDirectory("relay-restart")
        defer { try? FileManager.default.removeItem(at: log) }
        let output = log.appendingPathComponent("relay.out")
        let relay = try Self.relay(server, log: log, output: output)
        Thread.sleep(forTimeInterval: 1.5)
        try server.shutdown()
        Thread.sleep(forTimeInterval: 1)
        try server.restart()
        try server.execute(Workload.transactions(100..<200))
        // Cut the relay's connection from the server side, mid-stream.
        let admin = try server.connect()
        let dumps = try admin.query("SELECT id FROM information_schema.processlist WHERE command LIKE 'Binlog Dump%'")
        for row in dumps.rows { if let id = row.first ?? nil { try? admin.execute("KILL \(id)") } }
        admin.close()
        try server.execute(Workload.transactions(200..<300))
        // Wait until the log holds everything, then stop the relay with SIGTERM (a clean exit).
        let target = try server.binlogFiles().last!
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline {
            if let state = RelayLogState.read(directory: FilePath(log.path)), state.source.file == target.0,
                state.source.position >= UInt64(target.1.count)
            {
                break
            }
            Thread.sleep(forTimeInterval: 0.2)
        }
        relay.signal(SIGTERM)
        #expect(relay.wait(seconds: 10) == 0, "SIGTERM gives a clean exit: \(relay.output)")
        let (same, why) = Self.sameEvents(try Self.relayedEvents(log), try Self.sourceEvents(server))
        #expect(same, "\(why)")
        #expect(relay.output.contains("reconnecting"))
    }

    @Test("bad input: wrong password, no binlog, purged position: one clear error line, non-zero exit, log intact")
    func badInput() throws {
        let server = try MariaDBSandbox.start()
        defer { server.stop() }
        try server.execute(Workload.schema + Workload.transactions(0..<20) + [
            "CREATE USER 'repl'@'127.0.0.1' IDENTIFIED BY 'right-Pa55'",
            "GRANT REPLICATION SLAVE, BINLOG MONITOR ON *.* TO 'repl'@'127.0.0.1'",
            "CREATE USER 'plain'@'127.0.0.1' IDENTIFIED BY 'plain-Pa55'",
        ])
        let log = Self.temporaryDirectory("relay-bad")
        defer { try? FileManager.default.removeItem(at: log) }
        let output = log.appendingPathComponent("relay.out")
        // A good run first, so there is a log to keep intact.
        let good = try Self.relay(server, log: log, output: output, extra: ["--exit-when-caught-up"], user: "repl", password: "right-Pa55")
        #expect(good.wait() == 0, "\(good.output)")
        let before = try Self.relayedEvents(log)

        func failing(_ extra: [String], user: String, password: String?, expect: String) throws {
            let out = log.appendingPathComponent("fail-\(UUID().uuidString.prefix(4)).out")
            let relay = try Self.relay(server, log: log, output: out, extra: extra + ["--exit-when-caught-up"], user: user, password: password)
            let code = relay.wait(seconds: 30)
            #expect(code != nil && code != 0, "\(expect): exit \(String(describing: code))")
            let errors = relay.output.split(separator: "\n").filter { $0.hasPrefix("binlog-relay run:") }
            #expect(errors.count == 1, "one error line: \(relay.output)")
            #expect(relay.output.contains(expect), "\(relay.output)")
            #expect(!relay.output.contains("wrong-Pa55"), "the password never appears")
        }
        try failing([], user: "repl", password: "wrong-Pa55", expect: "Access denied")
        try failing([], user: "plain", password: "plain-Pa55", expect: "REPLICATION")
        let fresh = Self.temporaryDirectory("relay-purged")
        defer { try? FileManager.default.removeItem(at: fresh) }
        let purged = try ChildProcess(
            Self.executable, ["run", "--http-listen", "127.0.0.1:0", "--log-dir", fresh.path, "--server-id", "902", "--start", "mariadb-bin.000099:4", "--exit-when-caught-up"],
            environment: ["BINLOG_RELAY_SOURCE_URL": "mysql://root@127.0.0.1:\(server.port)?ssl-mode=DISABLED"],
            output: fresh.appendingPathComponent("out").path)
        #expect(purged.wait() != 0)
        #expect(purged.output.contains("no longer has mariadb-bin.000099") && purged.output.contains("mariadb-bin.000001"), "\(purged.output)")
        #expect(try Self.relayedEvents(log).elementsEqual(before), "the existing log is intact")

        let noBinlog = try MariaDBSandbox.start(["--skip-log-bin"])
        defer { noBinlog.stop() }
        let empty = Self.temporaryDirectory("relay-nobinlog")
        defer { try? FileManager.default.removeItem(at: empty) }
        let off = try ChildProcess(
            Self.executable, ["run", "--http-listen", "127.0.0.1:0", "--log-dir", empty.path, "--server-id", "903", "--exit-when-caught-up"],
            environment: ["BINLOG_RELAY_SOURCE_URL": "mysql://root@127.0.0.1:\(noBinlog.port)?ssl-mode=DISABLED"],
            output: empty.appendingPathComponent("out").path)
        #expect(off.wait() != 0)
        #expect(off.output.contains("binary logging off"), "\(off.output)")
    }
}

/// A small write workload with several tables, multi-row statements, updates and deletes.
enum Workload {
    static let schema = [
        "CREATE DATABASE IF NOT EXISTS work",
        "CREATE TABLE IF NOT EXISTS work.accounts (id INT PRIMARY KEY, owner VARCHAR(40), balance DECIMAL(14,2), updated DATETIME(6))",
        "CREATE TABLE IF NOT EXISTS work.events (id BIGINT AUTO_INCREMENT PRIMARY KEY, account INT, kind ENUM('in','out'), amount DECIMAL(14,2), note TEXT)",
    ]

    static func transactions(_ range: Range<Int>) -> [String] {
        range.flatMap { index in
            [
                "BEGIN",
                "INSERT INTO work.accounts VALUES (\(index), 'owner \(index)', \(index).25, NOW(6)) ON DUPLICATE KEY UPDATE balance = balance + 1",
                "INSERT INTO work.events (account, kind, amount, note) VALUES (\(index), 'in', 1.50, 'first'), (\(index), 'out', 0.75, REPEAT('x', \(index % 300)))",
                "UPDATE work.accounts SET balance = balance - 0.75, updated = NOW(6) WHERE id = \(index)",
                index % 7 == 0 ? "DELETE FROM work.events WHERE account = \(index) AND kind = 'out'" : "DO 0",
                "COMMIT",
            ]
        }
    }

    /// Runs transactions on a thread of its own.
    final class Writer: @unchecked Sendable {
        let server: MariaDBSandbox
        let range: Range<Int>
        private let done = DispatchSemaphore(value: 0)
        private(set) var error: (any Error)?

        init(server: MariaDBSandbox, transactions: Range<Int>) {
            self.server = server
            self.range = transactions
        }

        func start() {
            Thread.detachNewThread { [self] in
                do {
                    try server.execute(Workload.transactions(range))
                } catch {
                    self.error = error
                }
                done.signal()
            }
        }

        func wait() { done.wait() }
    }
}
