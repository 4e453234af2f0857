import Foundation
import TestSupport
import Testing

/// Heartbeats tell an idle source from a dead link.
@Suite("Source link", .serialized)
struct SourceLinkTests {
    @Test("an idle source keeps the stream open; a frozen source is noticed within a few heartbeats and the relay catches up after it thaws")
    func frozenSource() throws {
        let server = try MariaDBSandbox.start()
        defer { server.stop() }
        try server.execute(Workload.schema + Workload.transactions(0..<10))
        let log = SourceRelayTests.temporaryDirectory("relay-link")
        defer { try? FileManager.default.removeItem(at: log) }
        let output = log.appendingPathComponent("relay.out")
        let relay = try SourceRelayTests.relay(server, log: log, output: output, extra: ["--heartbeat", "0.5"])
        defer {
            relay.signal(SIGKILL)
            relay.wait()
        }
        // Idle for several heartbeat periods: no reconnect.
        Thread.sleep(forTimeInterval: 3)
        #expect(!relay.output.contains("reconnecting"), "an idle source is not a dead link: \(relay.output)")

        // Freeze the server: no heartbeats arrive, the read times out, the relay reconnects.
        let pid = pid_t(try String(contentsOf: server.directory.appendingPathComponent("mysqld.pid"), encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines))!
        kill(pid, SIGSTOP)
        Thread.sleep(forTimeInterval: 4)
        kill(pid, SIGCONT)
        #expect(relay.output.contains("reconnecting"), "a frozen source is noticed: \(relay.output)")

        // After the thaw the stream resumes and takes new transactions.
        try server.execute(Workload.transactions(10..<20))
        // Poll the segments until they hold every source event (the relay fsyncs at each commit).
        let deadline = Date().addingTimeInterval(20)
        var same = false
        var why = ""
        while Date() < deadline && !same {
            Thread.sleep(forTimeInterval: 0.3)
            (same, why) = SourceRelayTests.sameEvents(try SourceRelayTests.relayedEvents(log), try SourceRelayTests.sourceEvents(server))
        }
        #expect(same, "the relay caught up after the source thawed: \(why)\n\(relay.output)")
        relay.signal(SIGTERM)
        #expect(relay.wait(seconds: 10) == 0, "SIGTERM: clean exit")
    }
}
