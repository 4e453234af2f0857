import Foundation
import TestSupport
import Testing

/// `deploy/local/drill.sh` on the local pair: the source killed mid-load with semi-sync on,
/// the target promoted; the drill measures RPO 0 and an RTO.
@Suite struct DrillTests {
    @Test func theDrillReportsRPOZeroWithSemiSync() throws {
        let work = SourceRelayTests.temporaryDirectory("drill")
        defer { try? FileManager.default.removeItem(at: work) }
        let ports = (0..<3).map { _ in MariaDBSandbox.reservePort() }
        let script = MariaDBSandbox.repositoryRoot.appendingPathComponent("deploy/local/drill.sh").path
        let result = try runProgram(
            "/usr/bin/env",
            [
                "DRILL_SECONDS=4", "DRILL_CLIENTS=3", "DRILL_DIR=\(work.path)/drill", "SOURCE_PORT=\(ports[0])",
                "TARGET_PORT=\(ports[1])", "HTTP_PORT=\(ports[2])", "BINLOG_RELAY_BIN=\(SourceRelayTests.executable)",
                "/bin/bash", script,
            ])
        let output = result.outputText
        #expect(result.status == 0, "drill: \(output.suffix(3000)) \(result.errorText.suffix(2000))")
        #expect(output.contains("RPO: 0 acknowledged transactions missing on the target"))
        #expect(output.contains("Drill passed."))
        // Something was acknowledged and killed in flight: the drill measured a real load.
        let acknowledged = output.firstMatch(of: /clients saw (\d+) commits acknowledged/).flatMap { Int($0.1) } ?? 0
        #expect(acknowledged > 100, "\(output.suffix(2000))")
        let rto = output.firstMatch(of: /RTO: ([0-9.]+) s from the kill/).flatMap { Double($0.1) }
        #expect(rto != nil && rto! < 60)
    }
}
