import Applier
import ArgumentParser
import MySQLClient
import RelayLog

/// The source's connection settings from `--source-url` or `BINLOG_RELAY_SOURCE_URL`, and the
/// password from `BINLOG_RELAY_SOURCE_PASSWORD_FILE` (shared by `run` and `seed`).
func sourceConfiguration(url option: String?, environment: Environment) throws -> MySQLConnectionConfiguration {
    guard let url = option ?? environment["BINLOG_RELAY_SOURCE_URL"] else {
        throw ValidationError("no source: set --source-url or BINLOG_RELAY_SOURCE_URL")
    }
    var source: MySQLConnectionConfiguration
    do {
        source = try MySQLConnectionConfiguration(url: url)
    } catch {
        throw ValidationError("source.url: \(error.message)")
    }
    if let file = environment["BINLOG_RELAY_SOURCE_PASSWORD_FILE"] {
        source.password = try readSecret(file, key: "source.password_file")
    }
    return source
}

/// Where `run` starts an empty log on a target that `binlog-relay seed` prepared: at the seed's
/// snapshot, never elsewhere. An explicit start (`--start`, `BINLOG_RELAY_SOURCE_START`) must name
/// that same position; any other is refused rather than guessed between (docs/seed.md).
/// Returns nil when the target holds no seed checkpoint for the channel.
func seededStartPoint(explicit: String?, applier: ApplierConfiguration) throws -> SourceReader.StartPoint? {
    let seeded: SnapshotPosition?
    do {
        seeded = try Applier.seededStart(applier)
    } catch {
        throw ValidationError("target: \(error)")
    }
    guard let seeded else { return nil }
    let gtid = GTIDState(parsing: seeded.gtid) ?? GTIDState()
    if let explicit {
        let agrees: Bool
        switch SourceReader.StartPoint(explicit) {
        case .file(let file, let position): agrees = file == seeded.source.file && position == seeded.source.position
        case .gtid(let text): agrees = GTIDState(parsing: text) == gtid && !gtid.isEmpty
        default: agrees = false
        }
        guard agrees else {
            throw ValidationError(
                "source.start: '\(explicit)' disagrees with the seed checkpoint on the target (channel '\(applier.channel)': source \(seeded)); the seed's copy continues only from there. Leave --start and BINLOG_RELAY_SOURCE_START unset to continue from the seed")
        }
    }
    return .seeded(seeded.source, gtid)
}
