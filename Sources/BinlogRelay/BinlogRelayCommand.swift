import ArgumentParser

/// The `binlog-relay` command line (DESIGN.md, "Command line").
@main
struct BinlogRelayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "binlog-relay",
        abstract: "A MySQL/MariaDB binlog replication relay: durable local log, exactly-once apply, lag metrics.",
        version: BinlogRelayVersion.string,
        subcommands: [
            RunCommand.self, StatusCommand.self, PromoteCommand.self, SeedCommand.self, VerifyCommand.self, ApplyCommand.self,
            InspectCommand.self,
        ]
    )

    /// `inspect` with plain arguments is run without ArgumentParser's parsing, whose first use
    /// (reflection, protocol-conformance lookups) takes longer than decoding a small binlog.
    /// Everything else, and anything `inspect` would reject, goes through ArgumentParser.
    static func main() async {
        if let inspect = InspectCommand.PlainInvocation(CommandLine.arguments.dropFirst()) {
            do {
                try inspect.run()
                exit()
            } catch {
                exit(withError: error)
            }
        }
        await main(nil)
    }
}

enum BinlogRelayVersion {
    static let string = "0.1.0"
}
