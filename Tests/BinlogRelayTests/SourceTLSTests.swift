import Foundation
import MySQLClient
import TestSupport
import Testing

/// `binlog-relay run` against a MariaDB that offers TLS with a certificate signed by a CA made
/// at test time: every `ssl-mode`, an untrusted CA, a certificate for another host, compression.
@Suite("Source over TLS and compression", .serialized)
struct SourceTLSTests {
    /// Runs the relay to the end of the source's binlog with the given URL query.
    static func relay(
        _ server: MariaDBSandbox, host: String = "127.0.0.1", query: String, log: URL, serverID: Int = 911
    ) throws -> ChildProcess {
        try ChildProcess(
            SourceRelayTests.executable,
            ["run", "--http-listen", "127.0.0.1:0", "--log-dir", log.path, "--server-id", String(serverID), "--start", "earliest", "--exit-when-caught-up"],
            environment: ["BINLOG_RELAY_SOURCE_URL": "mysql://root@\(host):\(server.port)?\(query)"],
            output: log.appendingPathComponent("relay-\(UUID().uuidString.prefix(6)).out").path)
    }

    /// The relay's "streaming from source" line says `tls=<cipher>` or `tls=off`.
    static func tlsField(_ output: String) -> String? {
        guard let line = output.split(separator: "\n").first(where: { $0.contains("streaming from source") }),
            let range = line.range(of: "tls=")
        else { return nil }
        return String(line[range.upperBound...].prefix { $0 != " " })
    }

    static func errorLines(_ output: String) -> [Substring] {
        output.split(separator: "\n").filter { $0.hasPrefix("binlog-relay run:") }
    }

    /// A server with TLS and some transactions, one of them with a 3 MB value (a multi-packet event).
    static func server(_ certificates: TestCertificates, extra: [String] = []) throws -> MariaDBSandbox {
        let server = try MariaDBSandbox.start(certificates.serverOptions + extra)
        try server.execute(
            Workload.schema + Workload.transactions(0..<60)
                + ["CREATE TABLE work.blobs (id INT PRIMARY KEY, body LONGTEXT)",
                   "INSERT INTO work.blobs VALUES (1, REPEAT('large ', 500000))"]
                + Workload.transactions(60..<80))
        return server
    }

    /// Asks the server itself what a connection with this configuration negotiated.
    static func sessionStatus(_ configuration: MySQLConnectionConfiguration, _ name: String) throws -> String? {
        let connection = try MySQLConnection(configuration: configuration)
        defer { connection.close() }
        return try connection.query("SHOW SESSION STATUS LIKE '\(name)'").rows.first?.last ?? nil
    }

    @Test("ssl-mode=VERIFY_IDENTITY with the right CA streams over TLS; the log equals the source byte for byte")
    func verifyIdentity() throws {
        let certificates = try TestCertificates.make()
        defer { certificates.remove() }
        let server = try Self.server(certificates)
        defer { server.stop() }
        let log = SourceRelayTests.temporaryDirectory("relay-tls")
        defer { try? FileManager.default.removeItem(at: log) }

        let relay = try Self.relay(server, query: "ssl-mode=VERIFY_IDENTITY&ssl-ca=\(certificates.ca)", log: log)
        #expect(relay.wait(seconds: 60) == 0, "\(relay.output)")
        let cipher = Self.tlsField(relay.output)
        #expect(cipher != nil && cipher != "off", "the relay says which cipher it uses: \(relay.output)")
        let (same, why) = SourceRelayTests.sameEvents(try SourceRelayTests.relayedEvents(log), try SourceRelayTests.sourceEvents(server))
        #expect(same, "\(why)")

        // The same settings through the library: the server sees the TLS session, the client its cipher.
        var configuration = try MySQLConnectionConfiguration(
            url: "mysql://root@127.0.0.1:\(server.port)?ssl-mode=VERIFY_IDENTITY&ssl-ca=\(certificates.ca)")
        configuration.connectTimeoutSeconds = 10
        let connection = try MySQLConnection(configuration: configuration)
        #expect(connection.tlsCipher != nil)
        connection.close()
        let serverCipher = try Self.sessionStatus(configuration, "Ssl_cipher")
        #expect(serverCipher == cipher, "server: \(String(describing: serverCipher)), relay: \(String(describing: cipher))")
    }

    @Test("an untrusted CA, or a certificate that does not name the host: one clear error line, non-zero exit, log intact")
    func untrusted() throws {
        let certificates = try TestCertificates.make()
        defer { certificates.remove() }
        // Also listening on 127.0.0.2, which the certificate does not name.
        let server = try Self.server(certificates, extra: ["--bind-address=127.0.0.1,127.0.0.2"])
        defer { server.stop() }
        let log = SourceRelayTests.temporaryDirectory("relay-tls-bad")
        defer { try? FileManager.default.removeItem(at: log) }
        let good = try Self.relay(server, query: "ssl-mode=VERIFY_IDENTITY&ssl-ca=\(certificates.ca)", log: log)
        #expect(good.wait(seconds: 60) == 0, "\(good.output)")
        let before = try SourceRelayTests.relayedEvents(log)
        try server.execute(Workload.transactions(80..<90))  // something new the failing runs must not fetch

        func failing(host: String = "127.0.0.1", _ query: String, expect: [String]) throws {
            let relay = try Self.relay(server, host: host, query: query, log: log)
            let code = relay.wait(seconds: 30)
            #expect(code != nil && code != 0, "\(query): exit \(String(describing: code))")
            let errors = Self.errorLines(relay.output)
            #expect(errors.count == 1, "one error line: \(relay.output)")
            for text in expect { #expect(errors.first?.contains(text) == true, "'\(text)' in: \(relay.output)") }
            #expect(!relay.output.contains("streaming from source"), "no stream without trust: \(relay.output)")
        }
        try failing("ssl-mode=VERIFY_IDENTITY&ssl-ca=\(certificates.otherCA)", expect: ["certificate is not trusted", "ssl-ca"])
        try failing("ssl-mode=VERIFY_CA&ssl-ca=\(certificates.otherCA)", expect: ["certificate is not trusted"])
        // Right CA, wrong name: the certificate says 127.0.0.1 and localhost only.
        try failing(
            host: "127.0.0.2", "ssl-mode=VERIFY_IDENTITY&ssl-ca=\(certificates.ca)",
            expect: ["certificate is not trusted for host '127.0.0.2'"])
        // Verification without a CA is a configuration error, said before connecting.
        let noCA = try Self.relay(server, query: "ssl-mode=VERIFY_IDENTITY", log: log)
        #expect(noCA.wait(seconds: 30) != 0)
        #expect(noCA.output.contains("needs ssl-ca"), "\(noCA.output)")

        #expect(try SourceRelayTests.relayedEvents(log).elementsEqual(before), "the existing log is intact")
        // And the log goes on from where it was once the CA is right.
        let again = try Self.relay(server, query: "ssl-mode=VERIFY_IDENTITY&ssl-ca=\(certificates.ca)", log: log)
        #expect(again.wait(seconds: 60) == 0, "\(again.output)")
        let (same, why) = SourceRelayTests.sameEvents(try SourceRelayTests.relayedEvents(log), try SourceRelayTests.sourceEvents(server))
        #expect(same, "\(why)")
    }

    @Test("REQUIRED (and PREFERRED) without a CA use TLS; DISABLED streams in plaintext; both logs equal the source")
    func requiredAndDisabled() throws {
        let certificates = try TestCertificates.make()
        defer { certificates.remove() }
        let server = try Self.server(certificates)
        defer { server.stop() }
        for (mode, tls) in [("REQUIRED", true), ("PREFERRED", true), ("DISABLED", false)] {
            let log = SourceRelayTests.temporaryDirectory("relay-tls-\(mode.lowercased())")
            defer { try? FileManager.default.removeItem(at: log) }
            let relay = try Self.relay(server, query: "ssl-mode=\(mode)", log: log)
            #expect(relay.wait(seconds: 60) == 0, "\(mode): \(relay.output)")
            let field = Self.tlsField(relay.output)
            if tls {
                #expect(field != nil && field != "off", "\(mode): \(relay.output)")
            } else {
                #expect(field == "off", "\(mode): \(relay.output)")
            }
            let (same, why) = SourceRelayTests.sameEvents(try SourceRelayTests.relayedEvents(log), try SourceRelayTests.sourceEvents(server))
            #expect(same, "\(mode): \(why)")
            // What the server itself says about such a session.
            let configuration = try MySQLConnectionConfiguration(url: "mysql://root@127.0.0.1:\(server.port)?ssl-mode=\(mode)")
            let serverCipher = try Self.sessionStatus(configuration, "Ssl_cipher") ?? ""
            #expect(serverCipher.isEmpty == !tls, "\(mode): server reports Ssl_cipher '\(serverCipher)'")
        }
    }

    @Test("compress=true (with and without TLS) streams the same events byte for byte")
    func compressed() throws {
        let certificates = try TestCertificates.make()
        defer { certificates.remove() }
        let server = try Self.server(certificates)
        defer { server.stop() }
        for query in ["ssl-mode=DISABLED&compress=true", "ssl-mode=VERIFY_IDENTITY&ssl-ca=\(certificates.ca)&compress=true"] {
            let log = SourceRelayTests.temporaryDirectory("relay-compress")
            defer { try? FileManager.default.removeItem(at: log) }
            let relay = try Self.relay(server, query: query, log: log)
            #expect(relay.wait(seconds: 60) == 0, "\(query): \(relay.output)")
            let (same, why) = SourceRelayTests.sameEvents(try SourceRelayTests.relayedEvents(log), try SourceRelayTests.sourceEvents(server))
            #expect(same, "\(query): \(why)")
            let configuration = try MySQLConnectionConfiguration(url: "mysql://root@127.0.0.1:\(server.port)?\(query)")
            #expect(try Self.sessionStatus(configuration, "Compression") == "ON", "the server sees a compressed session")
        }
    }
}
