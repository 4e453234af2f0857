import Applier
import ArgumentParser
import MySQLClient
import RelayLog

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
