/// Tells, event by event, where transactions end: the only places where a relay may cut its
/// log, resume a stream or commit on the target (resuming mid-transaction is how peers lose
/// or double events).
///
/// Groups, as the servers write them:
/// - MySQL: GTID (or ANONYMOUS_GTID), then `BEGIN` … XID / `COMMIT` / `ROLLBACK`, or a single
///   DDL statement; `XA START` … `XA END` and XA_PREPARE; a TRANSACTION_PAYLOAD holds a whole
///   transaction.
/// - MariaDB: GTID (no `BEGIN` follows) … XID / `COMMIT`, or with FL_STANDALONE a single statement;
///   a prepared XA group ends with XA_PREPARE.
/// - Servers without GTIDs: `BEGIN` … XID / `COMMIT`, or one statement (with the INTVAR, RAND and
///   USER_VAR events that precede it).
/// Events outside any group (FORMAT_DESCRIPTION, ROTATE, PREVIOUS_GTIDS, GTID_LIST, BINLOG_CHECKPOINT,
/// HEARTBEAT, STOP) leave the tracker at a boundary.
public struct TransactionBoundaryTracker: Sendable, Equatable {
    public enum State: Sendable, Equatable {
        /// Between transactions.
        case idle
        /// A group has begun (GTID, or context events for a statement) and its shape is not known yet.
        case started
        /// Inside a multi-statement transaction.
        case inTransaction
    }

    public private(set) var state: State = .idle

    public init() {}

    /// Whether the stream is between transactions.
    public var isAtBoundary: Bool { state == .idle }

    /// Feeds one event; returns true when the event ends a transaction (or stands alone between them).
    @discardableResult
    public mutating func consume(_ event: BinlogEvent) -> Bool {
        switch event.payload {
        case .gtid:
            state = .started
            return false
        case .mariadbGTID(let gtid):
            state = gtid.isStandalone ? .started : .inTransaction
            return false
        case .query(let query):
            if query.isBegin || query.query.starts(with: "XA START".utf8) {
                state = .inTransaction
                return false
            }
            if state == .inTransaction && !(query.isCommit || query.isRollback) {
                return false
            }
            // COMMIT/ROLLBACK ends a transaction; any other statement outside one is its own group.
            state = .idle
            return true
        case .xid, .xaPrepare, .transactionPayload:
            state = .idle
            return true
        case .intvar, .rand, .userVariable, .tableMap, .rows, .annotateRows, .rowsQuery, .loadData:
            if state == .idle { state = .started }
            return false
        case .formatDescription, .rotate, .previousGTIDs, .mariadbGTIDList, .binlogCheckpoint, .heartbeat, .stop,
            .incident:
            return state == .idle
        case .opaque:
            return state == .idle
        }
    }
}
