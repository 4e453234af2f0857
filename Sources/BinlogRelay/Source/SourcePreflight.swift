import MySQLClient

/// Checks that a source can be replicated correctly before streaming from it, and says
/// precisely what is wrong when it cannot.
struct SourcePreflight {
    struct Facts: Sendable {
        var serverVersion: String
        var isMariaDB: Bool
        var binlogFormat: String
        var rowImage: String
        var rowMetadata: String?
        var checksum: String
        /// Binlog files the source still has, oldest first.
        var binlogFiles: [String]
        /// Current end of the binlog: file and position, and the GTID position/set.
        var currentFile: String
        var currentPosition: UInt64
        var currentGTID: String
        var semiSyncSourceEnabled: Bool
    }

    struct Refusal: Error, CustomStringConvertible {
        var description: String
    }

    /// Warnings that do not stop replication but reduce what the relay can do.
    static func warnings(_ facts: Facts) -> [String] {
        var warnings: [String] = []
        if facts.rowImage.uppercased() != "FULL" {
            warnings.append(
                "binlog_row_image is \(facts.rowImage): updates and deletes carry only some columns, so tables"
                    + " without a primary key cannot be matched exactly; set binlog_row_image=FULL")
        }
        if let metadata = facts.rowMetadata, metadata.uppercased() != "FULL" {
            warnings.append(
                "binlog_row_metadata is \(metadata): column names and signedness come from the target's schema"
                    + " instead of the binlog; set binlog_row_metadata=FULL")
        }
        return warnings
    }

    /// Reads the source's replication settings; throws a `Refusal` naming each unmet requirement.
    static func check(_ connection: MySQLConnection) throws -> Facts {
        let isMariaDB = connection.isMariaDB
        func variable(_ name: String) throws -> String? {
            try connection.query("SELECT @@global.\(name)").scalar
        }
        func optionalVariable(_ name: String) -> String? { try? variable(name) }

        guard try variable("log_bin") == "1" else {
            throw Refusal(description: "the source has binary logging off (log_bin=OFF): start it with --log-bin")
        }
        let format = try variable("binlog_format") ?? ""
        guard format.uppercased() == "ROW" else {
            throw Refusal(
                description: "the source's binlog_format is \(format): the relay needs ROW"
                    + " (SET GLOBAL binlog_format='ROW' and restart writers, or binlog_format=ROW in the config)")
        }
        // Listing the binlogs needs REPLICATION CLIENT (BINLOG MONITOR on MariaDB 10.5+).
        let files: [String]
        var status: MySQLResult
        do {
            files = try connection.query("SHOW BINARY LOGS").rows.compactMap { $0.first ?? nil }
        } catch {
            if error.number == 1227 || error.number == 1045 {
                throw Refusal(
                    description: "the user '\(connection.configuration.user)' lacks "
                        + (isMariaDB ? "BINLOG MONITOR (REPLICATION CLIENT)" : "REPLICATION CLIENT")
                        + ": GRANT REPLICATION SLAVE, \(isMariaDB ? "BINLOG MONITOR" : "REPLICATION CLIENT") ON *.* TO …")
            }
            throw error
        }
        // MySQL 8.2 renamed SHOW MASTER STATUS to SHOW BINARY LOG STATUS.
        if isMariaDB {
            status = try connection.query("SHOW MASTER STATUS")
        } else if let renamed = try? connection.query("SHOW BINARY LOG STATUS") {
            status = renamed
        } else {
            status = try connection.query("SHOW MASTER STATUS")
        }
        try checkReplicationGrant(connection, isMariaDB: isMariaDB)
        let row = status.rows.first ?? []
        let gtid = isMariaDB ? (optionalVariable("gtid_binlog_pos") ?? "") : (optionalVariable("gtid_executed") ?? "")
        let semiSync = isMariaDB ? optionalVariable("rpl_semi_sync_master_enabled") : optionalVariable("rpl_semi_sync_source_enabled")
        return Facts(
            serverVersion: connection.serverVersion, isMariaDB: isMariaDB, binlogFormat: format,
            rowImage: optionalVariable("binlog_row_image") ?? "FULL",
            rowMetadata: optionalVariable("binlog_row_metadata"),
            checksum: optionalVariable("binlog_checksum") ?? "NONE", binlogFiles: files,
            currentFile: (row.first ?? nil) ?? "", currentPosition: UInt64((row.count > 1 ? row[1] : nil) ?? "") ?? 4,
            currentGTID: gtid.replacingNewlines(), semiSyncSourceEnabled: semiSync == "1")
    }

    /// REPLICATION SLAVE (REPLICATION REPLICA) is needed for the dump itself.
    private static func checkReplicationGrant(_ connection: MySQLConnection, isMariaDB: Bool) throws {
        guard let grants = try? connection.query("SHOW GRANTS FOR CURRENT_USER()") else { return }
        let text = grants.rows.compactMap { $0.first ?? nil }.joined(separator: "\n").uppercased()
        if text.contains("ALL PRIVILEGES ON *.*") || text.contains("REPLICATION SLAVE") || text.contains("REPLICATION REPLICA") {
            return
        }
        throw Refusal(
            description: "the user '\(connection.configuration.user)' lacks REPLICATION SLAVE:"
                + " GRANT REPLICATION SLAVE, \(isMariaDB ? "BINLOG MONITOR" : "REPLICATION CLIENT") ON *.* TO …")
    }

    /// Refuses a file position the source no longer has, naming what it still has.
    static func checkPositionAvailable(file: String, facts: Facts) throws {
        guard !file.isEmpty, !facts.binlogFiles.isEmpty else { return }
        if !facts.binlogFiles.contains(file) {
            throw Refusal(
                description: "the source no longer has \(file) (purged?); it still has \(facts.binlogFiles.first!)"
                    + " … \(facts.binlogFiles.last!) (\(facts.binlogFiles.count) files): reseed the target or start"
                    + " the relay from a position the source still holds")
        }
    }
}

extension String {
    func replacingNewlines() -> String { String(map { $0 == "\n" ? "," : $0 }) }
}
