import Foundation

/// A child process started with posix_spawn: output to a file, killable with any signal, and
/// none of the test runner's descriptors inherited (Foundation's `Process` waits on descriptors
/// a daemonising child would keep open).
public final class ChildProcess: @unchecked Sendable {
    public let pid: pid_t
    public let outputPath: String
    private var exitStatus: Int32?

    public init(_ executable: String, _ arguments: [String], environment: [String: String] = [:], output: String) throws {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, output, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        // bash closes every other inherited descriptor, then execs the program.
        let closer = "for fd in $(ls /proc/$$/fd); do [ \"$fd\" -gt 2 ] && eval \"exec $fd>&-\"; done; exec \"$0\" \"$@\""
        let argv = (["/bin/bash", "-c", closer, executable] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var merged = ProcessInfo.processInfo.environment
        for (key, value) in environment { merged[key] = value }
        let envp = merged.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { envp.forEach { free($0) } }
        var pid = pid_t()
        let result = posix_spawn(&pid, "/bin/bash", &actions, nil, argv, envp)
        guard result == 0 else { throw MariaDBSandbox.SandboxError(description: "spawn \(executable): error \(result)") }
        self.pid = pid
        self.outputPath = output
    }

    public func signal(_ signal: Int32) { Foundation.kill(pid, signal) }

    /// Waits for the process to end; returns its exit code (128 + signal when killed).
    @discardableResult
    public func wait() -> Int32 {
        if let exitStatus { return exitStatus }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let code = (status & 0x7F) == 0 ? (status >> 8) & 0xFF : 128 + (status & 0x7F)
        exitStatus = code
        return code
    }

    /// Waits up to `seconds`; nil if still running.
    public func wait(seconds: Double) -> Int32? {
        let deadline = Date().addingTimeInterval(seconds)
        while true {
            if let exitStatus { return exitStatus }
            var status: Int32 = 0
            let result = waitpid(pid, &status, WNOHANG)
            if result == pid {
                let code = (status & 0x7F) == 0 ? (status >> 8) & 0xFF : 128 + (status & 0x7F)
                exitStatus = code
                return code
            }
            if Date() >= deadline { return nil }
            Thread.sleep(forTimeInterval: 0.05)
        }
    }

    /// Still running (not yet reaped).
    public var isRunning: Bool { wait(seconds: 0) == nil }

    /// Kills the process with SIGKILL and reaps it, if it is still running (never signals a pid
    /// already reaped, which the system may have given to another process).
    public func killIfRunning() {
        guard isRunning else { return }
        signal(SIGKILL)
        wait()
    }

    public var output: String { (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? "" }
}
