import Foundation
import MySQLClient
import TestSupport
import Testing

/// `binlog-relay seed` and the `run` that continues from it, on an ``ApplyPair``.
extension ApplyPair {
    /// Starts `binlog-relay seed` from the source to the TLS target.
    func startSeed(_ extra: [String] = [], environment: [String: String] = [:]) throws -> ChildProcess {
        var environment = environment
        environment["BINLOG_RELAY_SOURCE_URL"] = sourceURL
        environment["BINLOG_RELAY_TARGET_URL"] = targetURL()
        let output = work.appendingPathComponent("seed-\(UUID().uuidString.prefix(6)).out").path
        return try ChildProcess(SourceRelayTests.executable, ["seed", "--progress", "lines"] + extra, environment: environment, output: output)
    }

    /// Runs `binlog-relay seed` to its end: its exit code and output.
    func seed(_ extra: [String] = []) throws -> (code: Int32?, output: String) {
        let process = try startSeed(extra)
        let code = process.wait(seconds: 300)
        process.killIfRunning()
        return (code, process.output)
    }

    /// `binlog-relay run` on an empty log, without --start (it must continue from the seed), until
    /// it has applied all the source has.
    func runAfterSeed(_ extra: [String] = []) throws -> (code: Int32?, output: String) {
        let process = try ChildProcess(
            SourceRelayTests.executable,
            ["run", "--http-listen", "127.0.0.1:0", "--log-dir", log.path, "--server-id", "4002", "--exit-when-caught-up"] + extra,
            environment: ["BINLOG_RELAY_SOURCE_URL": sourceURL, "BINLOG_RELAY_TARGET_URL": targetURL()],
            output: work.appendingPathComponent("run-\(UUID().uuidString.prefix(6)).out").path)
        let code = process.wait(seconds: 300)
        process.killIfRunning()
        return (code, process.output)
    }

    /// A stream of mixed writes on the source, run by the `mariadb` client in the background
    /// (`statements` per line, paced by a short sleep after each line).
    func sourceWorkload(_ lines: [String], pause: Double = 0.002) throws -> ChildProcess {
        let file = work.appendingPathComponent("workload-\(UUID().uuidString.prefix(6)).sql")
        let text = lines.map { "\($0) DO SLEEP(\(pause));" }.joined(separator: "\n")
        try text.write(to: file, atomically: true, encoding: .utf8)
        return try ChildProcess(
            "/bin/bash",
            ["-c", "exec mariadb --no-defaults --default-character-set=utf8mb4 -h127.0.0.1 -P\(source.port) -uroot < \"$1\"", "workload", file.path],
            output: work.appendingPathComponent("workload.out").path)
    }
}

/// A number in a log line's metadata (`key=123`), from the last line that has it.
func logValue(_ output: String, _ key: String) -> Int? {
    for line in output.split(separator: "\n").reversed() {
        guard let range = line.range(of: " \(key)=") ?? line.range(of: ": \(key)=") else { continue }
        return Int(line[range.upperBound...].prefix { $0.isNumber })
    }
    return nil
}
