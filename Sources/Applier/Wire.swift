import MySQLClient

#if canImport(Glibc)
import Glibc
#endif

/// What the applier keeps about one target connection for bulk INSERTs (``BulkRows``): the
/// statements prepared on it, the last step mark given (``Wire``) and whether its session has
/// `autocommit` off. Used by one thread at a time; a new connection gets a new one.
final class BulkSession {
    private(set) var statementIDs: [[UInt8]: UInt32] = [:]
    var lastStep: UInt64 = 0
    /// A wire with bulks turned `autocommit` off and no wire since has ended committed.
    var autocommitOff = false

    /// Whether a text that leaves nothing open on the target must end with `SET autocommit=1`
    /// (a wire with bulks turned it off); from here it counts as on again.
    func takeAutocommitBackOn() -> Bool {
        defer { autocommitOff = false }
        return autocommitOff
    }
    /// The packet of the bulk being sent, reused.
    var packet: [UInt8] = []

    /// Statements prepared on one connection at most: the server holds at most
    /// `max_prepared_stmt_count` (16,382 by default) for all its sessions. Past it, rows of tables
    /// not prepared yet go as text (``BulkRows/writeText(into:)``; tests set it with
    /// `BINLOG_RELAY_TEST_BULK_STATEMENTS`).
    static let maximumStatements =
        getenv("BINLOG_RELAY_TEST_BULK_STATEMENTS").flatMap { Int(String(cString: $0)) } ?? 1024

    func statementID(_ bulk: BulkRows) -> UInt32? { statementIDs[bulk.statement] }

    var isFull: Bool { statementIDs.count >= Self.maximumStatements }

    /// Keeps the id of `statement`, prepared on `connection`; one prepared again meanwhile (by a
    /// wire sent before the first answer came) is closed.
    func prepared(_ statement: [UInt8], id: UInt32, on connection: MySQLConnection) {
        if statementIDs[statement] == nil {
            statementIDs[statement] = id
        } else if statementIDs[statement] != id {
            connection.closeStatement(id)
        }
    }
}

/// What one send puts on a target connection: text queries and, for the bulk INSERTs of the
/// batches in it, bulk executions between them; all are sent before any answer is read, and the
/// answers are read back as one batch's (``read(_:session:from:)``).
///
/// A command runs whatever happened to the one before it (the target stops a query at its first
/// failing statement, not the commands behind it). So that nothing after a failure takes effect:
/// - a wire with bulks begins with `SET autocommit=0`, before anything that can fail: a bulk
///   after a failure then runs in a transaction nobody commits (the applier closes the
///   connection on any error, which rolls it back), never committed by itself;
/// - the query before a bulk ends with `SET @binlog_relay_step=K`, reached only when every
///   statement before it ran;
/// - the query after it begins with `IF NOT @binlog_relay_step<=>K OR ROW_COUNT()<>n THEN
///   SIGNAL …` (ROW_COUNT() is -1 after an error): it stops at once unless the query before ran
///   whole and the bulk inserted all its rows, so no statement after a failure runs, COMMITs
///   included;
/// - a wire that ends committed ends with `SET autocommit=1`.
/// These statements of the wire's own are left out of the answers.
///
/// A statement not prepared on the connection yet is prepared in the same send, right before its
/// bulk (which names it as the statement prepared last): after the statements that go before it,
/// so a table they make is there; after a failed prepare the bulk fails too.
struct Wire {
    /// How to read a command's answer, and which of its statements are the wire's own.
    enum Answer {
        case text(injectedFirst: Int, injectedLast: Int)
        case prepare([UInt8])
        case bulk
    }

    private enum Command {
        case text(SQLText)
        case prepare([UInt8])
        case bulk(BulkRows, statementID: UInt32)
    }

    private var commands: [Command] = []
    private(set) var answers: [Answer] = []
    private var text = SQLText()
    private var injectedFirst = 0
    private let session: BulkSession

    static let checkMessage = "binlog-relay: a bulk INSERT or the statements before it did not complete"

    /// `bulks`: the wire will hold bulk INSERTs.
    init(bulks: Bool, session: BulkSession) {
        self.session = session
        if bulks {
            text.append("SET autocommit=0;")
            injectedFirst = 1
            session.autocommitOff = true
        }
    }

    /// Statements, each ending with `;`.
    mutating func append(_ statements: [UInt8]) { text.append(statements) }

    /// A batch's statements, its bulks at their places (as text once the connection holds as many
    /// statements as it may).
    mutating func append(_ batch: ApplyBatch) throws(ApplierError) {
        var start = 0
        for expectation in batch.expectations where expectation.bulk >= 0 {
            text.bytes.append(contentsOf: batch.sql.bytes[start..<expectation.end])
            let bulk = batch.bulks[Int(expectation.bulk)]
            if session.statementID(bulk) == nil && session.isFull {
                do {
                    try bulk.writeText(into: &text)
                } catch {
                    throw ApplierError(.decode, "a bulk INSERT's rows cannot be read back as text: \(error)")
                }
                text.append(";")
            } else {
                appendBulk(bulk, rows: expectation.rows ?? 0)
            }
            start = expectation.end
        }
        text.bytes.append(contentsOf: batch.sql.bytes[start...])
    }

    private mutating func appendBulk(_ bulk: BulkRows, rows: UInt64) {
        session.lastStep += 1
        let step = session.lastStep
        text.append("SET @binlog_relay_step=")
        text.append(unsigned: step)
        text.append(";")
        commands.append(.text(text))
        answers.append(.text(injectedFirst: injectedFirst, injectedLast: 1))
        var id = session.statementID(bulk)
        if id == nil {
            commands.append(.prepare(bulk.statement))
            answers.append(.prepare(bulk.statement))
            id = MySQLConnection.lastPreparedStatement
        }
        commands.append(.bulk(bulk, statementID: id!))
        answers.append(.bulk)
        text = SQLText()
        text.append("IF NOT @binlog_relay_step<=>")
        text.append(unsigned: step)
        text.append(" OR ROW_COUNT()<>")
        text.append(unsigned: rows)
        text.append(" THEN SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT='")
        text.append(Self.checkMessage)
        text.append("';END IF;")
        injectedFirst = 1
    }

    /// Ends the wire. `committed`: nothing of it stays open on the target once its last statement
    /// ran, so `autocommit` goes back on when a wire turned it off.
    mutating func finish(committed: Bool) {
        var injectedLast = 0
        if committed && session.takeAutocommitBackOn() {
            text.append("SET autocommit=1;")
            injectedLast = 1
        }
        if !text.isEmpty || commands.isEmpty {
            commands.append(.text(text))
            answers.append(.text(injectedFirst: injectedFirst, injectedLast: injectedLast))
        }
        text = SQLText()
    }

    /// Sends every command without waiting.
    func send(on connection: MySQLConnection) -> MySQLError? {
        for command in commands {
            switch command {
            case .text(let sql):
                if let failure = sql.bytes.withUnsafeBytes({ connection.sendBatch($0) }) { return failure }
            case .prepare(let statement):
                if let failure = statement.withUnsafeBytes({ connection.sendPrepare($0) }) { return failure }
            case .bulk(let bulk, let id):
                bulk.packet(statementID: id, into: &session.packet)
                if let failure = session.packet.withUnsafeBytes({ connection.sendBulk($0) }) { return failure }
            }
        }
        return nil
    }

    /// Reads the answers of a wire sent with ``send(on:)`` (every one, so the connection stays
    /// usable) as one batch's: the rows each statement and bulk affected up to the first that
    /// failed, the wire's own statements left out.
    static func read(_ answers: [Answer], session: BulkSession, from connection: MySQLConnection) -> MySQLConnection.BatchOutcome {
        var outcome = MySQLConnection.BatchOutcome(affectedRows: [])
        for answer in answers {
            switch answer {
            case .text(let first, let last):
                let result = connection.readBatch()
                guard outcome.error == nil else { continue }
                let ran = result.affectedRows.count
                if let error = result.error {
                    // Statement `ran` failed: those before it are the batch's, but the first ones.
                    if ran > first { outcome.affectedRows.append(contentsOf: result.affectedRows[first..<ran]) }
                    outcome.error = error
                } else if ran >= first + last {
                    outcome.affectedRows.append(contentsOf: result.affectedRows[first..<(ran - last)])
                }
            case .prepare(let statement):
                // Kept even after an earlier failure: the statement is the connection's.
                switch connection.readPrepare() {
                case .success(let id): session.prepared(statement, id: id, on: connection)
                case .failure(let error): if outcome.error == nil { outcome.error = error }
                }
            case .bulk:
                let result = connection.readBulk()
                guard outcome.error == nil else { continue }
                switch result {
                case .success(let rows): outcome.affectedRows.append(rows)
                case .failure(let error): outcome.error = error
                }
            }
        }
        return outcome
    }

    /// Sends the wire and reads its answers.
    func execute(on connection: MySQLConnection) -> MySQLConnection.BatchOutcome {
        if let failure = send(on: connection) { return MySQLConnection.BatchOutcome(affectedRows: [], error: failure) }
        return Self.read(answers, session: session, from: connection)
    }
}
