import Foundation
import MySQLClient

/// A throwaway MariaDB server on 127.0.0.1, started by the tests themselves through
/// `scripts/mariadb-sandbox.sh` (ROW format, GTID strict mode, CRC32 checksums).
public final class MariaDBSandbox: @unchecked Sendable {
    public let directory: URL
    public let port: Int
    private var stopped = false

    public static let repositoryRoot = Repository.root

    static let script = repositoryRoot.appendingPathComponent("scripts/mariadb-sandbox.sh").path
    private static let portLock = NSLock()
    nonisolated(unsafe) private static var nextPort = 21000 + Int(getpid() % 500) * 20

    /// A port of this test process's own, below the kernel's ephemeral range (32768 and up), so
    /// that no outgoing connection can hold it by the time a server binds it: for servers started
    /// here and for programs the tests start with ports of their own (drill.sh).
    public static func reservePort() -> Int {
        portLock.withLock { () -> Int in
            nextPort += 1
            return nextPort
        }
    }

    /// Starts a fresh server; extra `mariadbd` options as `--name=value`.
    public static func start(_ extraOptions: [String] = []) throws -> MariaDBSandbox {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("binlog-relay-test-\(getpid())-\(UUID().uuidString.prefix(8))")
        var lastError = ""
        for _ in 0..<5 {
            let port = reservePort()
            let (status, output) = try run(script, ["start", directory.path, String(port)] + extraOptions)
            if status == 0 { return MariaDBSandbox(directory: directory, port: port) }
            lastError = output
            _ = try? run(script, ["stop", directory.path])
            try? FileManager.default.removeItem(at: directory)
        }
        throw SandboxError(description: "could not start MariaDB: \(lastError)")
    }

    private init(directory: URL, port: Int) {
        self.directory = directory
        self.port = port
    }

    deinit { stop() }

    public func stop() {
        guard !stopped else { return }
        stopped = true
        _ = try? Self.run(Self.script, ["stop", directory.path])
        try? FileManager.default.removeItem(at: directory)
    }

    /// Stops the server without removing its data (to restart it later).
    public func shutdown() throws {
        _ = try Self.run(Self.script, ["stop", directory.path])
    }

    /// Kills the server process with SIGKILL (a crash).
    public func kill() throws {
        try send(SIGKILL)
        Thread.sleep(forTimeInterval: 0.5)
    }

    /// Sends a signal to the server process (SIGSTOP and SIGCONT: a link that stops answering).
    public func send(_ signal: Int32) throws {
        let pidText = try String(contentsOf: directory.appendingPathComponent("mysqld.pid"), encoding: .utf8)
        if let pid = Int32(pidText.trimmingCharacters(in: .whitespacesAndNewlines)) { Foundation.kill(pid, signal) }
    }

    /// Starts the server again on the same data and port.
    public func restart(_ extraOptions: [String] = []) throws {
        let (status, output) = try Self.run(Self.script, ["start", directory.path, String(port)] + extraOptions)
        if status != 0 { throw SandboxError(description: "restart failed: \(output)") }
    }

    public var binlogDirectory: URL { directory.appendingPathComponent("binlog") }

    public func configuration(user: String = "root", password: String? = nil, tls: MySQLConnectionConfiguration.TLSMode = .disabled)
        -> MySQLConnectionConfiguration
    {
        MySQLConnectionConfiguration(host: "127.0.0.1", port: port, user: user, password: password, tlsMode: tls)
    }

    public func connect() throws -> MySQLConnection {
        try MySQLConnection(configuration: configuration())
    }

    /// Runs statements as root, one connection, in order.
    public func execute(_ statements: [String]) throws {
        let connection = try connect()
        for statement in statements { try connection.execute(statement) }
        connection.close()
    }

    /// The server's binlog files in order, as (name, bytes).
    public func binlogFiles() throws -> [(String, Data)] {
        let names = try FileManager.default.contentsOfDirectory(atPath: binlogDirectory.path)
            .filter { $0.hasPrefix("mariadb-bin.") && !$0.hasSuffix(".index") && !$0.hasSuffix(".state") }.sorted()
        return try names.map { ($0, try Data(contentsOf: binlogDirectory.appendingPathComponent($0))) }
    }

    /// Runs the sandbox script and waits for it. Not through Foundation's `Process`: the server
    /// the script starts would inherit the descriptors `Process` watches for the child's exit,
    /// and the wait would never end. Here the script gets only stdin, a log file for its output,
    /// and nothing else (descriptors 3 and up are closed in the child).
    @discardableResult
    public static func run(_ executable: String, _ arguments: [String]) throws -> (Int32, String) {
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("sandbox-\(UUID().uuidString).log")
        defer { try? FileManager.default.removeItem(at: log) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, log.path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        // bash closes every other inherited descriptor, then runs the script.
        let closer = "for fd in $(ls /proc/$$/fd); do [ \"$fd\" -gt 2 ] && eval \"exec $fd>&-\"; done; exec \"$0\" \"$@\""
        let argv = (["/bin/bash", "-c", closer, executable] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid = pid_t()
        let spawned = posix_spawn(&pid, "/bin/bash", &actions, nil, argv, environ)
        guard spawned == 0 else { throw SandboxError(description: "cannot run \(executable): error \(spawned)") }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let exitCode = (status & 0x7F) == 0 ? (status >> 8) & 0xFF : 128 + (status & 0x7F)
        return (exitCode, (try? String(contentsOf: log, encoding: .utf8)) ?? "")
    }

    public struct SandboxError: Error, CustomStringConvertible {
        public var description: String
    }
}
