import Logging
import MySQLClient
import RelayLog

/// Consistent snapshots on the source, one per connection, with the binlog position each holds.
enum SeedSnapshot {
    /// Opens a snapshot on every connection. MariaDB: `START TRANSACTION WITH CONSISTENT SNAPSHOT`
    /// and the snapshot's own `binlog_snapshot_file`/`binlog_snapshot_position`, without any lock;
    /// the connections are opened together up to three times until their positions agree, then
    /// once more with commits blocked (`BACKUP STAGE BLOCK_COMMIT`, writes go on) for the moment
    /// it takes. Without the privilege for that they may stand apart: the seed's window covers it. MySQL, which does not
    /// say where a snapshot stands: under FLUSH TABLES WITH READ LOCK held just while the
    /// snapshots start and the position is read.
    static func open(
        _ connections: [MySQLConnection], control: MySQLConnection, isMariaDB: Bool, logger: Logger
    ) throws(ApplierError) -> [SnapshotPosition] {
        do {
            if isMariaDB {
                var positions: [SnapshotPosition] = []
                var blocking = false
                for attempt in 1...4 {
                    positions = []
                    if attempt == 4 && connections.count > 1 {
                        // Commits (not writes) blocked for the moment the snapshots take to open,
                        // as mariabackup does; needs RELOAD. Without it, the positions stay apart.
                        do {
                            try control.execute("BACKUP STAGE START")
                            try control.execute("BACKUP STAGE BLOCK_COMMIT")
                            blocking = true
                        } catch {
                            try? control.execute("BACKUP STAGE END")
                            logger.info("cannot block commits for a moment (BACKUP STAGE needs RELOAD): the snapshots may stand at different positions", metadata: ["error": "\(error)"])
                        }
                    }
                    for connection in connections {
                        try connection.execute("START TRANSACTION WITH CONSISTENT SNAPSHOT")
                    }
                    if blocking {
                        try control.execute("BACKUP STAGE END")
                        blocking = false
                    }
                    for connection in connections {
                        let status = try connection.query("SHOW STATUS LIKE 'binlog_snapshot_%'").rows
                        var file = ""
                        var position: UInt64 = 0
                        for row in status {
                            if row[0]?.lowercased() == "binlog_snapshot_file" { file = row[1] ?? "" }
                            if row[0]?.lowercased() == "binlog_snapshot_position" { position = UInt64(row[1] ?? "") ?? 0 }
                        }
                        guard !file.isEmpty else {
                            throw ApplierError(.configuration, "the source does not report its snapshot's binlog position (binlog_snapshot_file is empty): is log_bin on?")
                        }
                        positions.append(SnapshotPosition(source: SourcePosition(file: file, position: position), gtid: ""))
                    }
                    if Set(positions.map(\.description)).count == 1 || attempt == 4 { break }
                    for connection in connections { try connection.execute("ROLLBACK") }
                }
                var gtids: [String: String] = [:]
                for index in positions.indices {
                    let key = positions[index].source.description
                    if gtids[key] == nil {
                        let source = positions[index].source
                        gtids[key] =
                            try control.query("SELECT BINLOG_GTID_POS('\(control.escape(source.file))', \(source.position))").scalar ?? ""
                    }
                    positions[index].gtid = gtids[key] ?? ""
                }
                return positions
            }
            try control.execute("FLUSH TABLES WITH READ LOCK")
            defer { try? control.execute("UNLOCK TABLES") }
            for connection in connections { try connection.execute("START TRANSACTION WITH CONSISTENT SNAPSHOT") }
            var status: MySQLResult
            do {
                status = try control.query("SHOW BINARY LOG STATUS")
            } catch {
                status = try control.query("SHOW MASTER STATUS")
            }
            guard let row = status.firstRow, let file = row["File"] ?? nil, let position = (row["Position"] ?? nil).flatMap(UInt64.init) else {
                throw ApplierError(.configuration, "the source does not report its binlog position (SHOW MASTER STATUS is empty): is log_bin on?")
            }
            let gtid = try control.query("SELECT @@GLOBAL.gtid_executed").scalar ?? ""
            try control.execute("UNLOCK TABLES")
            let snapshot = SnapshotPosition(source: SourcePosition(file: file, position: position), gtid: String(gtid.filter { $0 != "\n" }))
            return Array(repeating: snapshot, count: connections.count)
        } catch let error as ApplierError {
            throw error
        } catch let error as MySQLError {
            throw ApplierError.source("cannot open a consistent snapshot on the source", error)
        } catch {
            throw ApplierError(.target, "cannot open a consistent snapshot on the source: \(error)")
        }
    }
}
