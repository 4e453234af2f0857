import MySQLClient
import SystemPackage

/// How the applier reaches and writes the target.
public struct ApplierConfiguration: Sendable {
    public var target: MySQLConnectionConfiguration
    /// The local log to read.
    public var logDirectory: FilePath
    /// Names this relay's checkpoint row: one per source → target pair.
    public var channel = "default"
    /// The relay's own schema on the target (checkpoint table); never replicated.
    public var schema = "binlog_relay"
    public var filter = TableFilter()
    /// A target transaction is committed once its statements reach this size (at a source
    /// transaction end); a larger source transaction is sent in pieces of this size, never held whole.
    public var batchBytes = 4 << 20
    /// At most this many source transactions are grouped into one target transaction.
    public var batchTransactions = 5_000
    /// Parallel apply: connections to the target (1 = one connection, source commit order).
    public var workers = 1
    /// Stop once everything the log holds is applied and the source side has finished.
    public var stopAtEnd = false
    /// A transaction the target refuses is retried every `failedRetryDelay` while the source side
    /// still runs (`run`: the relay keeps receiving, the operator fixes the target); once the source
    /// side has finished (promote, a one-shot copy) the error is thrown. When false, a refusal is
    /// thrown at once (`apply`).
    public var retriesRefusalsWhileRelaying = false
    /// Pause before retrying a transient error (doubles up to `maximumRetryDelay`).
    public var retryDelay: Duration = .milliseconds(500)
    public var maximumRetryDelay: Duration = .seconds(30)
    /// Pause before trying again a transaction the target refused (non-transient error), while
    /// the relay keeps receiving: the operator fixes the target and the applier goes on by itself.
    public var failedRetryDelay: Duration = .seconds(30)

    public init(target: MySQLConnectionConfiguration, logDirectory: FilePath) {
        self.target = target
        self.logDirectory = logDirectory
    }
}
