import BinlogFormat

/// What the events written so far say: source position, GTID state, format, transaction
/// boundaries. The writer feeds it every event it writes and recovery every event it reads back,
/// in the same order, so both reach the same state from the same bytes; the applier feeds it the
/// events it reads back, so its checkpoint names the same positions.
public struct StreamState {
    public internal(set) var tracker = TransactionBoundaryTracker()
    /// Position after the last source event.
    public internal(set) var source = SourcePosition(file: "", position: 0)
    /// GTIDs of complete transactions (the open transaction's GTID is in `pendingGTID`).
    public internal(set) var gtid = GTIDState()
    public internal(set) var pendingGTID: PendingGTID?
    /// Header timestamp of the last source event.
    public internal(set) var timestamp: UInt32 = 0
    var pendingCommitMicroseconds: UInt64?
    /// Commit time of the last complete transaction (microseconds since the epoch).
    public internal(set) var commitMicroseconds: UInt64?
    /// The FORMAT_DESCRIPTION in force: raw and decoded.
    var formatBytes: [UInt8] = []
    var format: FormatDescription = .assumedV4

    public init() {}

    /// The state at a transaction boundary the caller knows (a checkpoint): the source position
    /// and the GTIDs applied up to it.
    public init(source: SourcePosition, gtid: GTIDState) {
        self.source = source
        self.gtid = gtid
    }

    public enum PendingGTID: Sendable {
        case mysql(sid: UUID16, tag: String?, gno: Int64)
        case mariadb(MariaDBGTID)
    }

    public var isAtBoundary: Bool { tracker.isAtBoundary }

    /// Feeds one event (as written to the log); returns true when it ends a transaction (or is an
    /// event between transactions), that is when the log may be cut right after it.
    public mutating func consume(_ event: BinlogEvent) -> Bool {
        let header = event.header
        let relayMade = Segment.relayMade(header)
        if relayMade == nil {
            if header.logPosition != 0 { source.position = UInt64(header.logPosition) }
            if header.timestamp != 0 { timestamp = header.timestamp }
        }
        switch event.payload {
        case .formatDescription(let description):
            // Keep the source's bytes: a segment's copy differs only by the relay flag and its CRC.
            formatBytes = Array(event.bytes)
            if relayMade == .formatCopy {
                formatBytes = Segment.formatCopy(formatBytes, checksum: description.checksumAlgorithm, marked: false)
            }
            format = description
        case .rotate(let rotate):
            if relayMade != .closingRotate {
                source = SourcePosition(file: rotate.fileNameString, position: rotate.position)
            }
        case .gtid(let gtid):
            if !gtid.isAnonymous { pendingGTID = .mysql(sid: gtid.sid, tag: gtid.tag, gno: gtid.gno) }
            pendingCommitMicroseconds = gtid.originalCommitTimestamp
        case .mariadbGTID(let gtid):
            pendingGTID = .mariadb(gtid.gtid)
            pendingCommitMicroseconds = nil
        case .previousGTIDs(let set):
            if tracker.isAtBoundary { gtid.formUnion(set) }
        case .mariadbGTIDList(let list):
            if tracker.isAtBoundary { gtid.apply(list: list) }
        default:
            break
        }
        let ends = tracker.consume(event)
        if ends {
            switch event.type {
            case .xid, .query, .mariadbQueryCompressed, .xaPrepare, .transactionPayload, .executeLoadQuery:
                commitMicroseconds = pendingCommitMicroseconds ?? UInt64(header.timestamp) * 1_000_000
            default:
                break
            }
            switch pendingGTID {
            case .mysql(let sid, let tag, let gno): gtid.insert(sid: sid, tag: tag, gno: gno)
            case .mariadb(let value): gtid.record(value)
            case nil: break
            }
            pendingGTID = nil
            pendingCommitMicroseconds = nil
        }
        return ends
    }

    /// Forgets an open transaction (its events are being cut off).
    public mutating func abandonTransaction() {
        tracker = TransactionBoundaryTracker()
        pendingGTID = nil
        pendingCommitMicroseconds = nil
    }
}
