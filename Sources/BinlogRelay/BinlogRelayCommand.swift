import ArgumentParser

/// The `binlog-relay` command line (DESIGN.md, "Command line").
@main
struct BinlogRelayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "binlog-relay",
        abstract: "A MySQL/MariaDB binlog replication relay: durable local log, exactly-once apply, lag metrics.",
        version: BinlogRelayVersion.string,
        subcommands: [RunCommand.self, InspectCommand.self]
    )
}

enum BinlogRelayVersion {
    static let string = "0.1.0"
}
