import SystemPackage

/// Settings of the durable local log. A plain value: defaults in `init`, no global state.
public struct RelayLogConfiguration: Sendable {
    /// The log's directory (`log.dir`); created with its parents if missing.
    public var directory: FilePath

    /// A segment is closed, and the next begun, at the first transaction boundary once it holds at
    /// least this many bytes. A transaction is never split, so a large one makes its segment
    /// larger. Default 256 MiB.
    public var segmentSizeLimit: Int64

    /// Group commit: after an event that ends a transaction, ``RelayLogWriter/append(_:)`` reports
    /// a sync as due once this long has passed since the last sync. Zero (the default) makes every
    /// transaction end due: each transaction is durable before the next is read, which is what
    /// semi-sync needs; a few milliseconds batch transactions under load.
    public var syncInterval: Duration

    /// Group commit: a sync is due once this many bytes were appended since the last one, at a
    /// transaction end or, for a transaction larger than this, in its middle (to keep the data
    /// waiting for the disk bounded). Default 8 MiB.
    public var maxUnsyncedBytes: Int

    /// Bytes collected in memory before a write(2). Events larger than this go to the file
    /// directly. Default 1 MiB.
    public var writeBufferSize: Int

    /// The state file is rewritten (atomically: temporary file, fsync, rename, fsync of the
    /// directory) at most this often, and on close and after recovery. It is a hint for tools and
    /// for recovery to check itself against; the segments are the truth. Zero rewrites it at every
    /// sync (three more fsyncs per sync). Default 1 s.
    public var stateFileInterval: Duration

    /// Retention by age: closed segments last modified longer ago than this may be deleted.
    /// Nil keeps them whatever their age. Default 7 days.
    public var retentionMaxAge: Duration?

    /// Retention by size: the oldest closed segments may be deleted while the log is larger than
    /// this. Nil: no limit (the default).
    public var retentionMaxBytes: Int64?

    /// Whether a target exists. With a target, a segment is deleted only once applied in full
    /// (``RelayLogWriter/purge(appliedUpTo:now:)``); without one the log only relays and the
    /// limits alone decide.
    public var hasTarget: Bool

    /// How often ``RelayLogWriter/sync()`` runs retention with the applied location last given
    /// to ``RelayLogWriter/noteApplied(_:)``. Default 60 s.
    public var retentionCheckInterval: Duration

    public init(
        directory: FilePath,
        segmentSizeLimit: Int64 = 256 << 20,
        syncInterval: Duration = .zero,
        maxUnsyncedBytes: Int = 8 << 20,
        writeBufferSize: Int = 1 << 20,
        stateFileInterval: Duration = .seconds(1),
        retentionMaxAge: Duration? = .seconds(7 * 86_400),
        retentionMaxBytes: Int64? = nil,
        hasTarget: Bool = false,
        retentionCheckInterval: Duration = .seconds(60)
    ) {
        self.directory = directory
        self.segmentSizeLimit = segmentSizeLimit
        self.syncInterval = syncInterval
        self.maxUnsyncedBytes = maxUnsyncedBytes
        self.writeBufferSize = writeBufferSize
        self.stateFileInterval = stateFileInterval
        self.retentionMaxAge = retentionMaxAge
        self.retentionMaxBytes = retentionMaxBytes
        self.hasTarget = hasTarget
        self.retentionCheckInterval = retentionCheckInterval
    }
}
