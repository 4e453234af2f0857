import Foundation
import Logging
import MySQLClient
import RelayLog
import SystemPackage
import TestSupport
import Testing

@testable import BinlogRelay

/// The relay as a semi-synchronous replica of a MariaDB with `rpl_semi_sync_master_enabled=ON`
/// and wait point AFTER_SYNC: the source's commits wait for the relay's ACK, which the relay sends
/// only once the transaction is fsynced in its log.
@Suite("Semi-synchronous replica", .serialized)
struct SemiSyncTests {
    /// rpl_semi_sync_master_timeout: how long a commit waits for an ACK before the source falls back.
    static let timeoutSeconds = 2.0

    static func startServer() throws -> MariaDBSandbox {
        try MariaDBSandbox.start([
            "--rpl-semi-sync-master-enabled=ON", "--rpl-semi-sync-master-timeout=\(Int(timeoutSeconds * 1000))",
            "--rpl-semi-sync-master-wait-point=AFTER_SYNC",
        ])
    }

    static func relayArguments(_ log: URL, serverID: Int = 921) -> [String] {
        [
            "run", "--http-listen", "127.0.0.1:0", "--log-dir", log.path, "--server-id", String(serverID), "--start", "earliest", "--semi-sync",
            "--semi-sync-poll-interval", "0.3",
        ]
    }

    static func relay(_ server: MariaDBSandbox, log: URL, output: String) throws -> ChildProcess {
        try ChildProcess(
            SourceRelayTests.executable, relayArguments(log),
            environment: ["BINLOG_RELAY_SOURCE_URL": "mysql://root@127.0.0.1:\(server.port)?ssl-mode=DISABLED"],
            output: log.deletingLastPathComponent().appendingPathComponent(output).path)
    }

    /// The source's semi-sync status variables, without the `Rpl_semi_sync_master_` prefix.
    static func semiSyncStatus(_ connection: MySQLConnection) throws -> [String: String] {
        var values: [String: String] = [:]
        for row in try connection.query("SHOW GLOBAL STATUS LIKE 'Rpl_semi_sync_master_%'").rows {
            if let name = row[0], let value = row[1] { values[String(name.dropFirst("Rpl_semi_sync_master_".count))] = value }
        }
        return values
    }

    static func counter(_ connection: MySQLConnection, _ name: String) throws -> Int {
        Int(try semiSyncStatus(connection)[name] ?? "") ?? -1
    }

    /// Runs one transaction of the workload and returns how long its COMMIT took, in seconds.
    static func timedTransaction(_ connection: MySQLConnection, _ index: Int) throws -> Double {
        var commit = Duration.zero
        for statement in Workload.transactions(index..<(index + 1)) {
            let start = ContinuousClock.now
            try connection.execute(statement)
            if statement == "COMMIT" { commit = start.duration(to: .now) }
        }
        return Double(commit.components.seconds) + Double(commit.components.attoseconds) / 1e18
    }

    static func waitUntil(seconds: Double, _ condition: () throws -> Bool) rethrows -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        repeat {
            if try condition() { return true }
            Thread.sleep(forTimeInterval: 0.05)
        } while Date() < deadline
        return try condition()
    }

    /// The end position (log_pos) of the last source event in the relay's segment files.
    static func lastRelayedPosition(_ log: URL) throws -> UInt32 {
        guard let last = try SourceRelayTests.relayedEvents(log).last else { return 0 }
        let base = last.startIndex
        return UInt32(last[base + 13]) | UInt32(last[base + 14]) << 8 | UInt32(last[base + 15]) << 16 | UInt32(last[base + 16]) << 24
    }

    static func masterPosition(_ connection: MySQLConnection) throws -> (String, UInt32) {
        let row = try connection.query("SHOW MASTER STATUS").rows.first ?? []
        return ((row.first ?? nil) ?? "", UInt32((row.count > 1 ? row[1] : nil) ?? "") ?? 0)
    }

    @Test("commits wait for the relay's ACK; stopped or killed, the source waits for the timeout and falls back; the relay reports it")
    func commitsWaitForTheRelay() throws {
        let server = try Self.startServer()
        defer { server.stop() }
        let root = SourceRelayTests.temporaryDirectory("relay-semisync")
        defer { try? FileManager.default.removeItem(at: root) }
        let log = root.appendingPathComponent("log")
        let admin = try server.connect()
        defer { admin.close() }

        // 1. The relay registers as a semi-sync replica and says the source runs semi-sync.
        let first = try Self.relay(server, log: log, output: "first.out")
        #expect(try Self.waitUntil(seconds: 15) { try Self.counter(admin, "clients") == 1 }, "\(first.output)")
        #expect(Self.waitUntil(seconds: 5) { first.output.contains("source semi-sync: on") }, "\(first.output)")

        // 2. Commits are acknowledged, quickly, and each is in the relay's files when it returns.
        for statement in Workload.schema { try admin.execute(statement) }
        let yes = try Self.counter(admin, "yes_tx")
        let no = try Self.counter(admin, "no_tx")
        let count = 20
        var latencies: [Double] = []
        for index in 0..<count {
            latencies.append(try Self.timedTransaction(admin, index))
            let (_, position) = try Self.masterPosition(admin)
            #expect(try Self.lastRelayedPosition(log) >= position, "commit \(index) returned before the relay had it")
        }
        #expect(try Self.counter(admin, "yes_tx") == yes + count, "every commit acknowledged")
        #expect(try Self.counter(admin, "no_tx") == no, "none went without an ACK")
        #expect(try Self.semiSyncStatus(admin)["status"] == "ON")
        let slowest = latencies.max() ?? 0
        #expect(slowest < Self.timeoutSeconds / 2, "no commit waited for the timeout: \(latencies)")

        // 3. A stopped relay: the next commit waits the whole timeout, then the source falls back;
        // resumed, the relay catches up and its ACKs switch the source back on.
        first.signal(SIGSTOP)
        let stalled = try Self.timedTransaction(admin, count)
        #expect(stalled >= Self.timeoutSeconds * 0.9 && stalled < Self.timeoutSeconds + 5, "waited \(stalled) s")
        #expect(try Self.semiSyncStatus(admin)["status"] == "OFF")
        #expect(try Self.counter(admin, "no_tx") == no + 1)
        let asynchronous = try Self.timedTransaction(admin, count + 1)
        #expect(asynchronous < Self.timeoutSeconds / 2, "fallen back: no wait (\(asynchronous) s)")
        first.signal(SIGCONT)
        #expect(try Self.waitUntil(seconds: 10) { try Self.semiSyncStatus(admin)["status"] == "ON" }, "back on after the relay caught up")
        let yesBefore = try Self.counter(admin, "yes_tx")
        let resumed = try Self.timedTransaction(admin, count + 2)
        #expect(resumed < Self.timeoutSeconds / 2)
        #expect(try Self.counter(admin, "yes_tx") == yesBefore + 1)

        // 4. A killed relay: the same wait, and the source has fallen back when it comes back.
        first.signal(SIGKILL)
        first.wait()
        #expect(try Self.waitUntil(seconds: 10) { try Self.counter(admin, "clients") == 0 })
        let orphaned = try Self.timedTransaction(admin, count + 3)
        #expect(orphaned >= Self.timeoutSeconds * 0.9, "waited \(orphaned) s")
        #expect(try Self.semiSyncStatus(admin)["status"] == "OFF")

        let second = try Self.relay(server, log: log, output: "second.out")
        let fellBack = "source semi-sync: off (source fell back to async)"
        #expect(Self.waitUntil(seconds: 15) { second.output.contains(fellBack) }, "\(second.output)")
        #expect(
            Self.waitUntil(seconds: 10) {
                guard let off = second.output.range(of: fellBack) else { return false }
                return second.output[off.upperBound...].contains("source semi-sync: on")
            }, "the relay's ACKs switch the source back on, and the relay says so: \(second.output)")
        let yesAgain = try Self.counter(admin, "yes_tx")
        #expect(try Self.timedTransaction(admin, count + 4) < Self.timeoutSeconds / 2)
        #expect(try Self.counter(admin, "yes_tx") == yesAgain + 1)
        second.signal(SIGTERM)
        #expect(second.wait(seconds: 10) == 0, "\(second.output)")

        // 5. In the process: SourceStatus carries the state for metrics and /status.
        let captured = CapturedLog()
        var logger = Logger(label: "test") { _ in CapturingLogHandler(sink: captured) }
        logger.logLevel = .info
        let writer = try RelayLogWriter(configuration: RelayLogConfiguration(directory: FilePath(log.path)))
        var settings = SourceReader.Settings(
            source: server.configuration(), serverID: 922, semiSync: true, start: .earliest)
        settings.semiSyncPollSeconds = 0.2
        let reader = SourceReader(settings: settings, log: writer, logger: logger)
        let finished = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            do { try reader.run() } catch { captured.append("run failed: \(error)") }
            finished.signal()
        }
        #expect(Self.waitUntil(seconds: 15) { reader.status.snapshot.connected && reader.status.snapshot.sourceSemiSync == .on })
        #expect(reader.status.snapshot.semiSyncRequested && reader.status.snapshot.semiSyncActive)
        _ = try Self.timedTransaction(admin, count + 5)
        let (file, position) = try Self.masterPosition(admin)
        #expect(
            Self.waitUntil(seconds: 5) {
                reader.status.snapshot.lastAcknowledged == SourcePosition(file: file, position: UInt64(position))
            }, "last ACK \(String(describing: reader.status.snapshot.lastAcknowledged)), source at \(file):\(position)")
        #expect(reader.status.snapshot.acknowledgements >= 1)
        // Acknowledged only what is durable.
        if let acknowledged = reader.status.snapshot.lastAcknowledged, let durable = reader.status.snapshot.durable {
            #expect(acknowledged.file == durable.source.file && acknowledged.position <= durable.source.position)
        }
        try admin.execute("SET GLOBAL rpl_semi_sync_master_enabled = OFF")
        #expect(Self.waitUntil(seconds: 5) { reader.status.snapshot.sourceSemiSync == .disabled })
        // The monitor logs the change just after recording it: wait for the line too.
        #expect(
            Self.waitUntil(seconds: 5) { captured.lines.contains { $0.contains("source semi-sync: off (disabled on the source)") } },
            "\(captured.lines)")
        try admin.execute("SET GLOBAL rpl_semi_sync_master_enabled = ON")
        #expect(Self.waitUntil(seconds: 5) { reader.status.snapshot.sourceSemiSync == .on })
        let snapshot = reader.status.snapshot
        #expect((snapshot.sourceSemiSyncClients ?? 0) >= 1, "\(snapshot)")
        #expect(snapshot.sourceSemiSyncYesTransactions != nil && snapshot.sourceSemiSyncNoTransactions != nil, "\(snapshot)")
        reader.stop()
        #expect(finished.wait(timeout: .now() + 10) == .success)
        try writer.close()
        #expect(!captured.lines.contains { $0.hasPrefix("run failed") }, "\(captured.lines)")

        // Everything the source wrote is in the log, once, in order.
        let (same, why) = SourceRelayTests.sameEvents(try SourceRelayTests.relayedEvents(log), try SourceRelayTests.sourceEvents(server))
        #expect(same, "\(why)")
    }

    static let straceWorks: Bool = {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/strace") else { return false }
        return (try? MariaDBSandbox.run("/usr/bin/strace", ["-f", "-o", "/dev/null", "/bin/true"]).0) == 0
    }()

    @Test(
        "every ACK names a position whose bytes were fdatasynced before it was sent (strace of the relay's system calls)",
        .enabled(if: straceWorks, "needs strace and ptrace"))
    func acknowledgesOnlyDurable() throws {
        let server = try Self.startServer()
        defer { server.stop() }
        let root = SourceRelayTests.temporaryDirectory("relay-semisync-strace")
        defer { try? FileManager.default.removeItem(at: root) }
        let log = root.appendingPathComponent("log")
        let trace = root.appendingPathComponent("strace.txt").path
        let admin = try server.connect()
        defer { admin.close() }

        let traced = try ChildProcess(
            "/usr/bin/strace",
            ["-f", "-y", "-xx", "-s", "64", "-e", "trace=pwrite64,pwritev,write,fdatasync,fsync,sendto", "-o", trace,
             SourceRelayTests.executable] + Self.relayArguments(log),
            environment: ["BINLOG_RELAY_SOURCE_URL": "mysql://root@127.0.0.1:\(server.port)?ssl-mode=DISABLED"],
            output: root.appendingPathComponent("relay.out").path)
        #expect(try Self.waitUntil(seconds: 20) { try Self.counter(admin, "clients") == 1 }, "\(traced.output)")
        for statement in Workload.schema { try admin.execute(statement) }
        // Two writers at once, so some fsyncs cover several transactions (one ACK for them all):
        // the workload, and single-row commits into a table of their own.
        try admin.execute("CREATE TABLE work.ticks (id INT PRIMARY KEY, at DATETIME(6))")
        let writer = Workload.Writer(server: server, transactions: 0..<40)
        writer.start()
        let ticker = try server.connect()
        for index in 0..<60 { try ticker.execute("INSERT INTO work.ticks VALUES (\(index), NOW(6))") }
        ticker.close()
        writer.wait()
        #expect(writer.error == nil, "\(String(describing: writer.error))")
        let status = try Self.semiSyncStatus(admin)
        #expect(status["no_tx"] == "0" && status["status"] == "ON", "every commit acknowledged: \(status)")

        // Stop the relay (strace's child) with SIGTERM; strace ends with it.
        let children = (try? String(contentsOfFile: "/proc/\(traced.pid)/task/\(traced.pid)/children", encoding: .utf8)) ?? ""
        let relayPID = children.split(separator: " ").compactMap { Int32($0) }.first
        #expect(relayPID != nil)
        if let relayPID { kill(relayPID, SIGTERM) }
        #expect(traced.wait(seconds: 20) == 0, "\(traced.output)")

        // Where each source position ends in the relay's segments.
        var ends: [UInt32: (segment: Int, offset: Int)] = [:]
        let segments = try FileManager.default.contentsOfDirectory(atPath: log.path).filter { $0.hasSuffix(".bin") }.sorted()
        for name in segments {
            let number = Int(name.dropFirst("relay-".count).prefix(6)) ?? 0
            let data = [UInt8](try Data(contentsOf: log.appendingPathComponent(name)))
            var offset = 4
            for event in SourceRelayTests.events(of: data) {
                offset += event.count
                let base = event.startIndex
                guard event[base + 17] & 0x40 == 0 else { continue }  // the relay's own events
                let position = UInt32(event[base + 13]) | UInt32(event[base + 14]) << 8 | UInt32(event[base + 15]) << 16 | UInt32(event[base + 16]) << 24
                ends[position] = (number, offset)
            }
        }
        let sourceFiles = try server.binlogFiles().map(\.0)
        #expect(sourceFiles.count == 1, "one source file keeps positions unique: \(sourceFiles)")

        let checked = try StraceAudit.check(trace: String(contentsOfFile: trace, encoding: .utf8)) { file, position in
            guard file == sourceFiles.first, let end = ends[UInt32(position)] else { return nil }
            return end
        }
        #expect(checked.problems.isEmpty, "\(checked.problems.prefix(5))")
        #expect(checked.acknowledgements >= 10, "ACKs seen: \(checked.acknowledgements)")
        #expect(checked.fdatasyncs >= checked.acknowledgements, "fdatasyncs \(checked.fdatasyncs), ACKs \(checked.acknowledgements)")
    }
}

/// Reads an `strace -f -y -xx` trace of the relay and checks, for every semi-sync ACK it sent,
/// that the relay-log bytes holding the acknowledged position had been written with pwrite64 and
/// fdatasynced (call returned 0) before the ACK's sendto began.
enum StraceAudit {
    struct Result {
        var acknowledgements = 0
        var fdatasyncs = 0
        var problems: [String] = []
    }

    static func check(trace: String, locate: (String, UInt64) -> (segment: Int, offset: Int)?) -> Result {
        var result = Result()
        var written: [Int: Int] = [:]  // segment -> end of the bytes written so far
        var durable: [Int: Int] = [:]  // segment -> end of the bytes fdatasynced so far
        var pending: [Substring: String] = [:]  // pid -> the call of an <unfinished ...> line
        var syncStarts: [Substring: (segment: Int, upTo: Int)] = [:]

        // `-xx` prints every string as \xNN, the descriptor's path (`-y`) included.
        func bytes(_ hex: Substring) -> [UInt8] {
            hex.split(separator: "\\x", omittingEmptySubsequences: true).compactMap { UInt8($0, radix: 16) }
        }
        func segment(in call: String) -> Int? {
            guard let match = call.firstMatch(of: /^\w+\(\d+<((?:\\x[0-9a-f]{2})*)>/) else { return nil }
            let path = String(decoding: bytes(match.1), as: UTF8.self)
            guard let name = path.split(separator: "/").last, let number = name.firstMatch(of: /^relay-(\d+)\.bin$/)
            else { return nil }
            return Int(number.1)
        }
        func started(_ pid: Substring, _ call: String) {
            if call.hasPrefix("fdatasync("), let number = segment(in: call) {
                syncStarts[pid] = (number, written[number] ?? 0)
            } else if call.hasPrefix("sendto("), let match = call.firstMatch(of: /^sendto\(\d+<[^>]*>, "((?:\\x[0-9a-f]{2})*)"/) {
                let bytes = bytes(match.1)
                // An ACK packet: 3-byte length, sequence, 0xEF, position (u64 LE), file name.
                guard bytes.count >= 13, bytes[4] == 0xEF, Int(bytes[0]) | Int(bytes[1]) << 8 | Int(bytes[2]) << 16 == bytes.count - 4
                else { return }
                result.acknowledgements += 1
                var position: UInt64 = 0
                for index in 0..<8 { position |= UInt64(bytes[5 + index]) << (8 * UInt64(index)) }
                let file = String(decoding: bytes[13...], as: UTF8.self)
                guard let end = locate(file, position) else {
                    result.problems.append("ACK of \(file):\(position) is not the end of an event in the relay log")
                    return
                }
                if (durable[end.segment] ?? 0) < end.offset {
                    result.problems.append(
                        "ACK of \(file):\(position) (relay segment \(end.segment) offset \(end.offset)) sent when only"
                            + " \(durable[end.segment] ?? 0) bytes were fdatasynced")
                }
            }
        }
        func completed(_ pid: Substring, _ call: String) {
            if call.hasPrefix("pwrite64("), let number = segment(in: call),
                let match = call.firstMatch(of: /, (\d+), (\d+)\) += (\d+)$/),
                let length = Int(match.1), let offset = Int(match.2), Int(match.3) == length
            {
                written[number] = max(written[number] ?? 0, offset + length)
            } else if (call.hasPrefix("write(") || call.hasPrefix("pwritev(")) && segment(in: call) != nil {
                result.problems.append("a segment written by a call this audit does not follow: \(call.prefix(80))")
            } else if call.hasPrefix("fdatasync("), call.hasSuffix(" = 0"), let start = syncStarts.removeValue(forKey: pid) {
                result.fdatasyncs += 1
                durable[start.segment] = max(durable[start.segment] ?? 0, start.upTo)
            }
        }

        for line in trace.split(separator: "\n") {
            guard let space = line.firstIndex(of: " ") else { continue }
            let pid = line[..<space]
            let rest = line[space...].drop { $0 == " " }
            if rest.hasPrefix("<... ") {
                guard let call = pending.removeValue(forKey: pid), let resumed = rest.range(of: "resumed>") else { continue }
                completed(pid, call + rest[resumed.upperBound...])
            } else if rest.hasSuffix(" <unfinished ...>") {
                let call = String(rest.dropLast(" <unfinished ...>".count))
                pending[pid] = call
                started(pid, call)
            } else {
                started(pid, String(rest))
                completed(pid, String(rest))
            }
        }
        return result
    }
}

/// Log lines captured in the test process.
final class CapturedLog: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: [String] = []
    func append(_ line: String) { lock.withLock { stored.append(line) } }
    var lines: [String] { lock.withLock { stored } }
}

struct CapturingLogHandler: LogHandler {
    let sink: CapturedLog
    var logLevel: Logger.Level = .info
    var metadata: Logger.Metadata = [:]

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(
        level: Logger.Level, message: Logger.Message, metadata: Logger.Metadata?, source: String, file: String,
        function: String, line: UInt
    ) {
        sink.append("\(level) \(message)")
    }
}
