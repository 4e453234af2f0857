import Applier
import Foundation
import Logging
import MySQLClient
import RelayLog
import Testing

@testable import BinlogRelay

/// Settings from YAML, environment and options; lag arithmetic; the status and HTTP formats.
@Suite struct SettingsTests {
    private func settings(
        yaml: String?, environment: [String: String] = [:], options: [String: SettingsSources.Value] = [:],
        require: Set<RelaySettings.Part> = []
    ) throws -> RelaySettings {
        var path: String?
        if let yaml {
            let file = FileManager.default.temporaryDirectory.appendingPathComponent("relay-\(UUID().uuidString.prefix(8)).yaml")
            try yaml.write(to: file, atomically: true, encoding: .utf8)
            path = file.path
        }
        defer { if let path { try? FileManager.default.removeItem(atPath: path) } }
        return try RelaySettings(sources: SettingsSources(options: options, environment: environment, configFile: path), require: require)
    }

    private func failure(
        yaml: String?, environment: [String: String] = [:], require: Set<RelaySettings.Part> = []
    ) -> String {
        do {
            _ = try settings(yaml: yaml, environment: environment, require: require)
            return "no error"
        } catch {
            return "\(error)"
        }
    }

    static let fullYAML = """
        source:
          url: mysql://repl:s3cret@db1.internal:3306?ssl-mode=REQUIRED
          server_id: 4242
          start: earliest
          heartbeat: 0.5
          semi_sync: true
        target:
          url: mysql://relay:t4rget@db2.example.net:3306?ssl-ca=/etc/ca.pem
          channel: east
          include: [shop, "app.*"]
          exclude: app.sessions
          rewrite_schema: ["shop=shop_dr"]
          batch_bytes: 8MiB
          workers: 4
        log:
          dir: /var/lib/binlog-relay
          segment_size: 64MiB
          retention_hours: 24
        http:
          listen: 0.0.0.0:9104
          ready_max_lag_seconds: 30
        logging:
          level: debug
          format: json
        """

    @Test func aFullFileIsReadWithItsTypes() throws {
        let settings = try settings(yaml: Self.fullYAML, require: [.source, .target, .log])
        #expect(settings.source?.serverID == 4242)
        #expect(settings.source?.heartbeatSeconds == 0.5)
        #expect(settings.source?.semiSync == true)
        #expect(settings.source?.start == .earliest)
        #expect(settings.source?.connection.password == "s3cret")
        #expect(settings.target?.channel == "east")
        #expect(settings.target?.batchBytes == 8 << 20)
        #expect(settings.target?.workers == 4)
        #expect(settings.target?.filter.schemaRenames["shop"] == "shop_dr")
        #expect(settings.log?.segmentSize == 64 << 20)
        #expect(settings.log?.retentionHours == 24)
        #expect(settings.http.host == "0.0.0.0" && settings.http.port == 9104)
        #expect(settings.http.readyMaxLagSeconds == 30)
        #expect(settings.logLevel == .debug && settings.logFormat == .json)
    }

    @Test func theEnvironmentWinsOverTheFileAndOptionsOverBoth() throws {
        let environment = [
            "BINLOG_RELAY_TARGET_WORKERS": "2", "BINLOG_RELAY_SERVER_ID": "7", "BINLOG_RELAY_LOG_DIR": "/data/log",
            "BINLOG_RELAY_TARGET_INCLUDE": "a,b.c",
        ]
        let fromEnvironment = try settings(yaml: Self.fullYAML, environment: environment)
        #expect(fromEnvironment.target?.workers == 2)
        #expect(fromEnvironment.source?.serverID == 7)  // DESIGN.md's short name for source.server_id
        #expect(fromEnvironment.log?.directory == "/data/log")
        #expect(fromEnvironment.effective.first { $0.key == "target.include" }?.value == "[a, b.c]")
        let fromOption = try settings(yaml: Self.fullYAML, environment: environment, options: ["target.workers": .text("8")])
        #expect(fromOption.target?.workers == 8)
        #expect(fromOption.effective.first { $0.key == "target.workers" }?.origin == .option)
        #expect(fromOption.effective.first { $0.key == "source.server_id" }?.origin == .environment)
        #expect(fromOption.effective.first { $0.key == "log.segment_size" }?.origin == .file)
    }

    @Test func withoutAFileTheEnvironmentIsEnough() throws {
        let settings = try settings(
            yaml: nil,
            environment: [
                "BINLOG_RELAY_SOURCE_URL": "mysql://u:p@h:3306", "BINLOG_RELAY_SERVER_ID": "9", "BINLOG_RELAY_LOG_DIR": "/x",
                "BINLOG_RELAY_HTTP_LISTEN": "[::1]:9200",
            ],
            require: [.source, .log])
        #expect(settings.source?.serverID == 9)
        #expect(settings.http.host == "::1" && settings.http.port == 9200)
        #expect(settings.target == nil)
    }

    @Test func theReportMasksPasswordsAndSaysWhereEachValueCameFrom() throws {
        let report = try settings(yaml: Self.fullYAML).report
        #expect(!report.contains("s3cret"))
        #expect(!report.contains("t4rget"))
        #expect(report.contains("mysql://repl:****@db1.internal:3306"))
        #expect(report.contains("(config file)"))
        #expect(report.contains("(default)"))
    }

    @Test func unknownKeysAndBadValuesAreErrorsNamingTheKey() {
        #expect(failure(yaml: "source:\n  url: mysql://a@b\n  serverid: 3\n").contains("unknown setting 'source.serverid'"))
        #expect(failure(yaml: "sourse:\n  url: mysql://a@b\n").contains("unknown setting 'sourse.url'"))
        #expect(failure(yaml: "target: [1, 2]\n").contains("'target' must be a section"))
        #expect(failure(yaml: "target:\n  url: mysql://a@b?ssl-mode=DISABLED\n  workers: lots\n").contains("target.workers: 'lots'"))
        #expect(failure(yaml: "target:\n  url: mysql://a@b?ssl-mode=DISABLED\n  workers: 0\n").contains("target.workers"))
        #expect(failure(yaml: "target:\n  url: [a]\n").contains("target.url: must be a single value"))
        #expect(failure(yaml: "log:\n  segment_size: 12 parsecs\n").contains("log.segment_size"))
        #expect(failure(yaml: "http:\n  listen: nowhere\n").contains("http.listen"))
        #expect(failure(yaml: "logging:\n  level: loud\n").contains("logging.level: 'loud'"))
        #expect(failure(yaml: "source:\n  url: mysql://a@b\n  semi_sync: maybe\n  server_id: 1\n").contains("source.semi_sync"))
        #expect(failure(yaml: "source:\n  url: mysql://a@b\n", require: [.source]).contains("source.server_id: required"))
        #expect(failure(yaml: "source:\n  url: mysql://a:pw@b\n  server_id: 1\n", require: [.source, .log]).contains("log.dir: required"))
        #expect(failure(yaml: "source:\n  url: mysql://a@b?ssl-mode=SOMETIMES\n  server_id: 1\n").contains("source.url"))
        #expect(failure(yaml: "target:\n  url: mysql://a@b\n").contains("ssl-ca"))  // VERIFY_IDENTITY is the target's default
        #expect(failure(yaml: ": : :\n  - x").contains("not a YAML mapping"))
        #expect(failure(yaml: nil, environment: ["BINLOG_RELAY_TARGET_WORKERS": "x", "BINLOG_RELAY_TARGET_URL": "mysql://a@b?ssl-mode=DISABLED"])
            .contains("target.workers: 'x'"))
        // A password never appears in an error.
        #expect(!failure(yaml: "source:\n  url: mysql://a:hunter2@b:99999\n  server_id: 1\n").contains("hunter2"))
    }

    @Test func anUnknownVariableIsAWarning() throws {
        let settings = try settings(yaml: nil, environment: ["BINLOG_RELAY_TARGET_WORKRS": "3"])
        #expect(settings.warnings.contains { $0.contains("BINLOG_RELAY_TARGET_WORKRS") })
    }

    @Test func passwordFilesAreRead() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("pw-\(UUID().uuidString.prefix(8))")
        try "from-a-secret\n".write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        let settings = try settings(
            yaml: "source:\n  url: mysql://repl@h\n  server_id: 1\n  password_file: \(file.path)\n")
        #expect(settings.source?.connection.password == "from-a-secret")
        #expect(failure(yaml: "source:\n  url: mysql://repl@h\n  server_id: 1\n  password_file: /nonexistent/pw\n")
            .contains("source.password_file: cannot read"))
    }

    // MARK: - Lag

    private func inputs(now: Double = 1000) -> LagInputs {
        LagInputs(
            now: now, sourceClockOffset: 0, heartbeatPeriod: 1, lastHeartbeatArrival: 0, lastEventArrival: 0,
            lastEventCommit: 0, allDurable: true, durableCommit: 0, hasTarget: true, appliedCommit: 0, applyPending: false)
    }

    @Test func anIdleSourceWithHeartbeatsShowsNoLag() {
        var idle = inputs()
        idle.lastEventCommit = 900
        idle.lastEventArrival = 900
        idle.durableCommit = 900
        idle.lastHeartbeatArrival = 999.4
        let lag = Lag(idle)
        #expect(lag.receive == 0 && lag.durable == 0 && lag.apply == 0)
    }

    @Test func aCutLinkShowsLagGrowingFromTheLastHeartbeat() {
        var cut = inputs()
        cut.lastHeartbeatArrival = 990
        cut.lastEventArrival = 900
        cut.lastEventCommit = 900
        cut.durableCommit = 900
        let first = Lag(cut).receive ?? -1
        cut.now += 5
        let later = Lag(cut).receive ?? -1
        #expect(first > 8 && first < 9)  // 10 s since the heartbeat, less the period it covers
        #expect(abs(later - first - 5) < 1e-9)
        #expect(Lag(cut).apply == later)
    }

    @Test func aBacklogShowsTheAgeOfWhatIsBeingApplied() {
        var catchingUp = inputs()
        catchingUp.lastEventCommit = 999
        catchingUp.lastEventArrival = 999.9
        catchingUp.durableCommit = 999
        catchingUp.appliedCommit = 940
        catchingUp.applyPending = true
        let lag = Lag(catchingUp)
        #expect(lag.receive == 1)
        #expect(lag.apply == 60)
    }

    @Test func theSourceClockOffsetIsTakenOut() {
        var skewed = inputs()
        // The source's clock runs 30 s ahead: its commit times look 30 s in the future here.
        skewed.sourceClockOffset = 30
        skewed.lastEventCommit = 1028
        skewed.lastEventArrival = 999
        skewed.durableCommit = 1028
        #expect(Lag(skewed).receive == 2)
    }

    @Test func whatIsNotDurableCountsInTheDurableLag() {
        var buffered = inputs()
        buffered.lastEventCommit = 999
        buffered.lastEventArrival = 999.9
        buffered.durableCommit = 990
        buffered.allDurable = false
        #expect(Lag(buffered).durable == 10)
    }

    // MARK: - Formats

    @Test func theStatusJSONRoundTrips() throws {
        var report = StatusReport(
            version: "1", state: "replicating", ready: true, time: 5, uptimeSeconds: 1,
            lag: .init(receive: 0, relay: 0.5, apply: nil), backlog: .init(bytes: 10, transactions: 2))
        report.applied = .init(file: "b.000001", position: 4, gtid: "0-1-5", log: "relay-000001.bin:4", commitTimestamp: 3)
        let decoded = try StatusReport.decode(report.encoded())
        #expect(decoded == report)
        let text = String(decoding: report.encoded(), as: UTF8.self)
        #expect(text.contains("\"commit_timestamp\""))
        #expect(report.text.contains("applied:   b.000001:4  gtid 0-1-5"))
    }

    @Test func httpResponsesAreParsedPlainAndChunked() throws {
        let plain = try HTTPRequest.parse(Array("HTTP/1.1 503 Service Unavailable\r\nContent-Length: 5\r\n\r\nhello".utf8))
        #expect(plain.status == 503 && plain.body == Array("hello".utf8))
        let chunked = try HTTPRequest.parse(
            Array("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n".utf8))
        #expect(String(decoding: chunked.body, as: UTF8.self) == "hello world")
        #expect(throws: HTTPRequest.Failure.self) { try HTTPRequest.parse(Array("garbage".utf8)) }
    }

    @Test func gtidBacklogsAreCounted() throws {
        let mariadb = try #require(GTIDState(parsing: "0-1-100,1-2-50"))
        let before = try #require(GTIDState(parsing: "0-1-90,1-2-50"))
        #expect(mariadb.transactionCount(after: before) == 10)
        let mysql = try #require(GTIDState(parsing: "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-100"))
        let applied = try #require(GTIDState(parsing: "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-40:50-60"))
        #expect(mysql.transactionCount(after: applied) == 49)
        #expect(mysql.transactionCount(after: mariadb) == nil)
    }
}
