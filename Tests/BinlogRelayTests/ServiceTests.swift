import Foundation
import MySQLClient
import TestSupport
import Testing

@testable import BinlogRelay

/// The relay as a service, on real servers: settings from a YAML file, the HTTP endpoints and
/// metric values against what a workload did, lag when idle / when the link is cut / after,
/// the status page in a real headless browser, graceful shutdown, and failover with `promote`.
@Suite(.serialized) struct ServiceTests {
    static let targetPassword = "Sup3r-Secret-Pw"

    /// A relay started from a YAML file, its HTTP port read from its log.
    struct RunningRelay {
        let process: ChildProcess
        let port: Int

        func get(_ path: String) throws -> HTTPRequest.Response {
            try HTTPRequest(host: "127.0.0.1", port: port, path: path, timeoutSeconds: 10).send()
        }

        func status() throws -> StatusReport { try StatusReport.decode(get("/status").body) }

        func metrics() throws -> String { String(decoding: try get("/metrics").body, as: UTF8.self) }

        /// Waits until `condition` holds for the status, up to `seconds`.
        func waitFor(_ seconds: Double, _ what: String, _ condition: (StatusReport) -> Bool) throws -> StatusReport {
            let end = Date().addingTimeInterval(seconds)
            var last: StatusReport?
            while Date() < end {
                if let report = try? status() {
                    last = report
                    if condition(report) { return report }
                }
                Thread.sleep(forTimeInterval: 0.2)
            }
            throw TestFailure("timed out waiting for \(what); last status: \(last?.text ?? "none"); relay output: \(process.output.suffix(3000))")
        }
    }

    static func start(_ pair: ApplyPair, yaml: String) throws -> RunningRelay {
        let file = pair.work.appendingPathComponent("relay-\(UUID().uuidString.prefix(6)).yaml")
        try yaml.write(to: file, atomically: true, encoding: .utf8)
        let process = try ChildProcess(
            SourceRelayTests.executable, ["run", "--config", file.path],
            output: pair.work.appendingPathComponent("relay-\(UUID().uuidString.prefix(6)).out").path)
        let end = Date().addingTimeInterval(60)
        while Date() < end {
            let output = process.output
            if let range = output.range(of: #"listen=127\.0\.0\.1:(\d+)"#, options: .regularExpression),
                let port = Int(output[range].split(separator: ":").last ?? "")
            {
                return RunningRelay(process: process, port: port)
            }
            if !process.isRunning { break }
            Thread.sleep(forTimeInterval: 0.1)
        }
        process.killIfRunning()
        throw TestFailure("the relay did not start serving HTTP: \(process.output)")
    }

    static func yaml(_ pair: ApplyPair, withTarget: Bool = true, extra: String = "") -> String {
        var text = """
            source:
              url: \(pair.sourceURL)
              server_id: 4101
              start: earliest
              heartbeat: 1
            log:
              dir: \(pair.log.path)
            http:
              listen: 127.0.0.1:0
              ready_max_lag_seconds: 30

            """
        if withTarget {
            text += """
                target:
                  url: \(pair.targetURL(user: "relay", password: targetPassword))

                """
        }
        return text + extra
    }

    static func makeTargetUser(_ pair: ApplyPair) throws {
        try pair.target.execute([
            "CREATE USER 'relay'@'%' IDENTIFIED BY '\(targetPassword)'", "GRANT ALL ON *.* TO 'relay'@'%' WITH GRANT OPTION",
        ])
    }

    static func sourceGTID(_ pair: ApplyPair) throws -> String {
        let connection = try pair.source.connect()
        defer { connection.close() }
        return try connection.query("SELECT @@gtid_binlog_pos").scalar ?? ""
    }

    /// The value of a metric line (`name{labels} value`), or nil when it is absent.
    static func metric(_ text: String, _ series: String) -> Double? {
        for line in text.split(separator: "\n") where line.hasPrefix(series + " ") {
            return Double(line.dropFirst(series.count + 1))
        }
        return nil
    }

    @Test func endpointsMetricsLagAndShutdown() throws {
        let pair = try ApplyPair(sourceOptions: ["--binlog-row-metadata=FULL"])
        defer { pair.stop() }
        try Self.makeTargetUser(pair)
        try pair.sourceSQL(
            """
            CREATE DATABASE shop;
            CREATE TABLE shop.items (id INT PRIMARY KEY, name VARCHAR(40), price DECIMAL(10,2));
            """)
        let relay = try Self.start(pair, yaml: Self.yaml(pair))
        defer { relay.process.killIfRunning() }

        // The workload: 5 transactions of 10 inserts, one updating 10 rows, one deleting 5.
        var script = ""
        for batch in 0..<5 {
            script += "BEGIN;\n"
            for row in 0..<10 { script += "INSERT INTO shop.items VALUES (\(batch * 10 + row), 'item \(row)', \(row).50);\n" }
            script += "COMMIT;\n"
        }
        script += "UPDATE shop.items SET price = price + 1 WHERE id < 10;\nDELETE FROM shop.items WHERE id >= 45;\n"
        try pair.sourceSQL(script)
        let gtid = try Self.sourceGTID(pair)

        let caughtUp = try relay.waitFor(60, "the target to reach \(gtid)") { $0.applied?.gtid == gtid }
        #expect(caughtUp.target?.tlsCipher != nil)
        // Received, durable and applied positions: file:pos and GTID.
        #expect(caughtUp.received?.lastGtid == gtid)  // one domain: the last GTID is the position
        #expect(caughtUp.durable?.gtid == gtid)
        #expect(caughtUp.received?.file == caughtUp.applied?.file && caughtUp.received?.position == caughtUp.applied?.position)
        #expect(try pair.differences(["shop"]) == [])

        // Idle: heartbeats keep every lag at 0, and the relay is ready.
        let idle = try relay.waitFor(10, "lag 0 while idle") { $0.lag.receive == 0 && $0.lag.relay == 0 && $0.lag.apply == 0 }
        #expect(idle.ready)
        #expect(idle.state == "replicating")
        #expect(idle.backlog.bytes == 0 && idle.backlog.transactions == 0)
        #expect(try relay.get("/healthz").status == 200)
        #expect(try relay.get("/readyz").status == 200)

        // Metric values equal what the workload did (2 DDL + 7 transactions of rows).
        let metrics = try relay.metrics()
        #expect(Self.metric(metrics, #"binlog_relay_rows_applied_total{op="insert"}"#) == 50)
        #expect(Self.metric(metrics, #"binlog_relay_rows_applied_total{op="update"}"#) == 10)
        #expect(Self.metric(metrics, #"binlog_relay_rows_applied_total{op="delete"}"#) == 5)
        #expect(Self.metric(metrics, "binlog_relay_transactions_applied_total") == 9)
        #expect(Self.metric(metrics, "binlog_relay_source_connected") == 1)
        #expect(Self.metric(metrics, "binlog_relay_target_connected") == 1)
        #expect(Self.metric(metrics, "binlog_relay_apply_lag_seconds") == 0)
        #expect(Self.metric(metrics, "binlog_relay_backlog_bytes") == 0)
        #expect(Self.metric(metrics, "binlog_relay_ready") == 1)
        #expect((Self.metric(metrics, #"binlog_relay_events_received_total{type="write_rows_v1"}"#) ?? 0) >= 5)
        #expect((Self.metric(metrics, #"binlog_relay_events_received_total{type="xid"}"#) ?? 0) >= 7)
        #expect((Self.metric(metrics, "binlog_relay_log_fsync_seconds_count") ?? 0) >= 1)
        #expect((Self.metric(metrics, "binlog_relay_apply_batch_seconds_count") ?? 0) >= 1)
        #expect(metrics.contains(#"binlog_relay_info{version=""#) && metrics.contains(#"source_flavor="mariadb""#))
        let lastApplied = try #require(Self.metric(metrics, "binlog_relay_last_applied_event_timestamp_seconds"))
        #expect(abs(lastApplied - Date().timeIntervalSince1970) < 120)

        // `binlog-relay status` says the same for a person.
        let status = try runProgram(SourceRelayTests.executable, ["status", "--url", "http://127.0.0.1:\(relay.port)"])
        #expect(status.status == 0)
        #expect(status.outputText.contains("state:     replicating (ready)"))
        #expect(status.outputText.contains("applied:   mariadb-bin.000001:"))

        // A cut link (the source stops answering): lag grows second by second, readiness goes.
        try pair.source.send(SIGSTOP)
        var samples: [Double] = []
        for _ in 0..<6 {
            Thread.sleep(forTimeInterval: 1)
            samples.append(try relay.status().lag.receive ?? -1)
        }
        let cut = try relay.waitFor(10, "the source to be seen as gone") { !$0.ready && $0.state == "source_disconnected" }
        #expect(try relay.get("/readyz").status == 503)
        #expect(samples.last! > samples.first! + 3, "lag samples \(samples)")
        #expect((cut.lag.apply ?? 0) >= (cut.lag.receive ?? 0))
        #expect(Self.metric(try relay.metrics(), "binlog_relay_source_connected") == 0)

        // The status page, in a real browser, draws the rising lag.
        try Self.checkStatusPage(port: relay.port, work: pair.work)

        // The link is back: lag falls to 0 again.
        try pair.source.send(SIGCONT)
        _ = try relay.waitFor(30, "lag to fall back to 0") { $0.ready && $0.lag.receive == 0 && $0.lag.apply == 0 }
        #expect((Self.metric(try relay.metrics(), "binlog_relay_source_reconnects_total") ?? 0) >= 1)

        // Nothing shows the target's password.
        let everything = [try relay.metrics(), String(decoding: try relay.get("/status").body, as: UTF8.self), relay.process.output]
        #expect(!everything.contains { $0.contains(Self.targetPassword) })

        // SIGTERM: finish, fsync, exit 0 within a few seconds.
        relay.process.signal(SIGTERM)
        let code = relay.process.wait(seconds: 10)
        #expect(code == 0, "exit \(String(describing: code)): \(relay.process.output.suffix(2000))")
        #expect(relay.process.output.contains("stopped"))
    }

    /// Loads `/` in headless chromium while the link is cut: the page runs without errors and its
    /// chart's last receive-lag sample is over a second and rising.
    static func checkStatusPage(port: Int, work: URL) throws {
        let chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].first { FileManager.default.isExecutableFile(atPath: $0) }
        let browser = try #require(chromium, "chromium is not installed: scripts/setup-debian.sh installs it")
        func load() throws -> (dom: String, log: String) {
            let profile = work.appendingPathComponent("chromium-\(UUID().uuidString.prefix(6))")
            let result = try runProgram(
                "/usr/bin/timeout",
                [
                    "60", browser, "--headless", "--no-sandbox", "--disable-gpu", "--user-data-dir=\(profile.path)",
                    "--virtual-time-budget=2500", "--enable-logging=stderr", "--v=0", "--dump-dom", "http://127.0.0.1:\(port)/",
                ])
            #expect(result.status == 0, "chromium: \(result.errorText.suffix(2000))")
            return (result.outputText, result.errorText)
        }
        func lastReceive(_ dom: String) -> Double? {
            guard let range = dom.range(of: #"data-last-receive="[0-9.]+""#, options: .regularExpression) else { return nil }
            return Double(dom[range].dropFirst("data-last-receive=\"".count).dropLast())
        }
        let first = try load()
        #expect(first.dom.contains("id=\"state\""))
        #expect(first.dom.contains("<div id=\"error\"></div>"), "the page could not reach the relay")
        let consoleErrors = first.log.split(separator: "\n").filter { $0.contains("CONSOLE") && $0.contains("ERROR") }
        #expect(consoleErrors.isEmpty, "console errors: \(consoleErrors)")
        let firstLag = try #require(lastReceive(first.dom), "no chart sample in the page: \(first.dom.prefix(3000))")
        Thread.sleep(forTimeInterval: 2)
        let second = try load()
        let secondLag = try #require(lastReceive(second.dom))
        #expect(firstLag > 1)
        #expect(secondLag > firstLag, "chart lag \(firstLag) then \(secondLag)")
    }

    @Test func promoteAppliesEverythingAndARestartIsRefused() throws {
        let pair = try ApplyPair()
        defer { pair.stop() }
        try Self.makeTargetUser(pair)
        try pair.target.execute(["SET GLOBAL read_only = ON"])
        try pair.sourceSQL("CREATE DATABASE app; CREATE TABLE app.t (id INT PRIMARY KEY, v TEXT);")
        let relay = try Self.start(pair, yaml: Self.yaml(pair))
        defer { relay.process.killIfRunning() }
        var script = ""
        for row in 0..<300 { script += "INSERT INTO app.t VALUES (\(row), REPEAT('x', \(row)));\n" }
        try pair.sourceSQL(script)
        let gtid = try Self.sourceGTID(pair)

        let promote = try runProgram(SourceRelayTests.executable, ["promote", "--url", "127.0.0.1:\(relay.port)", "--json"])
        #expect(promote.status == 0, "promote: \(promote.outputText) \(promote.errorText)")
        let result = try PromotionResult.decode(Array(promote.outputText.utf8))
        #expect(result.promoted)
        #expect(result.applied?.gtid == gtid)
        #expect(result.sourceReachable && result.missingTransactions == 0)
        #expect(result.targetReadOnlyCleared)
        #expect(result.tookSeconds < 30)
        #expect(relay.process.wait(seconds: 15) == 0, "the relay stops after promote: \(relay.process.output.suffix(2000))")
        #expect(try pair.differences(["app"]) == [])
        let target = try pair.target.connect()
        #expect(try target.query("SELECT @@global.read_only").scalar == "0")
        target.close()

        // A relay started again on this log would replay the old source over the new primary.
        let again = try ChildProcess(
            SourceRelayTests.executable,
            ["run", "--http-listen", "127.0.0.1:0", "--log-dir", pair.log.path, "--server-id", "4102", "--source-url", pair.sourceURL,
             "--target-url", pair.targetURL()],
            output: pair.work.appendingPathComponent("again.out").path)
        #expect(again.wait(seconds: 30) == 1)
        #expect(again.output.contains("promoted"))
    }

    @Test func aRefusedTransactionKeepsTheRelayReceivingAndFailsAPromote() throws {
        let pair = try ApplyPair()
        defer { pair.stop() }
        try Self.makeTargetUser(pair)
        try pair.sourceSQL("CREATE DATABASE app; CREATE TABLE app.t (id INT PRIMARY KEY, v INT); INSERT INTO app.t VALUES (1,1),(2,2);")
        let relay = try Self.start(pair, yaml: Self.yaml(pair))
        defer { relay.process.killIfRunning() }
        let first = try Self.sourceGTID(pair)
        _ = try relay.waitFor(60, "the first rows applied") { $0.applied?.gtid == first }
        // The target diverges: the next update finds no row there, and the applier stops on it.
        try pair.target.execute(["SET sql_log_bin = 0", "DELETE FROM app.t WHERE id = 2"])
        try pair.sourceSQL("UPDATE app.t SET v = 20 WHERE id = 2; INSERT INTO app.t VALUES (3,3);")
        let last = try Self.sourceGTID(pair)
        let stuck = try relay.waitFor(60, "the applier to stop on the refused update") {
            $0.state == "apply_failed" && $0.durable?.gtid == last
        }
        #expect(!stuck.ready && (stuck.notReadyReason ?? "").contains("applier stopped on an error"))
        #expect((stuck.target?.lastError ?? "").contains("app"), "\(stuck.target?.lastError ?? "")")
        #expect(try relay.get("/readyz").status == 503)
        #expect(relay.process.isRunning, "the relay keeps receiving while the target refuses")
        #expect((Self.metric(try relay.metrics(), #"binlog_relay_errors_total{stage="apply"}"#) ?? 0) >= 1)

        // Promote says so instead of claiming a promoted target.
        let promote = try runProgram(SourceRelayTests.executable, ["promote", "--url", "127.0.0.1:\(relay.port)"])
        #expect(promote.status != 0)
        #expect(promote.outputText.contains("NOT promoted"), "\(promote.outputText) \(promote.errorText)")
        #expect(!FileManager.default.fileExists(atPath: pair.log.appendingPathComponent("PROMOTED").path))
    }

    @Test func promoteOfAStoppedRelayAppliesItsLog() throws {
        let pair = try ApplyPair()
        defer { pair.stop() }
        try pair.sourceSQL("CREATE DATABASE app; CREATE TABLE app.t (id INT PRIMARY KEY, v INT); INSERT INTO app.t VALUES (1,1),(2,2),(3,3);")
        // The relay ran without reaching the target (or crashed): its log holds everything.
        try pair.fillLog()
        let gtid = try Self.sourceGTID(pair)
        // Nothing listens on the relay's address: promote applies the log itself.
        let promote = try runProgram(
            SourceRelayTests.executable,
            ["promote", "--url", "127.0.0.1:1", "--log-dir", pair.log.path, "--target-url", pair.targetURL(), "--source-url", pair.sourceURL])
        #expect(promote.status == 0, "promote: \(promote.outputText) \(promote.errorText)")
        #expect(promote.outputText.contains("promoted: the target has everything"))
        #expect(promote.outputText.contains("gtid \(gtid)"))
        #expect(promote.outputText.contains("transactions missing on the target: 0"))
        #expect(try pair.differences(["app"]) == [])
        #expect(FileManager.default.fileExists(atPath: pair.log.appendingPathComponent("PROMOTED").path))
    }

    @Test func aBadConfigFailsNamingTheKey() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("bad-\(UUID().uuidString.prefix(6)).yaml")
        try "source:\n  url: mysql://u@127.0.0.1:1\n  server_id: 3\ntarget:\n  url: mysql://u@h?ssl-mode=DISABLED\n  wokers: 4\nlog:\n  dir: /tmp/x\n"
            .write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        let result = try runProgram(SourceRelayTests.executable, ["run", "--config", file.path])
        #expect(result.status != 0)
        #expect(result.errorText.contains("unknown setting 'target.wokers'"))
        let check = try runProgram(SourceRelayTests.executable, ["run", "--config", file.path, "--check-config"])
        #expect(check.status != 0)
        #expect(check.errorText.contains("target.wokers"))
    }
}
