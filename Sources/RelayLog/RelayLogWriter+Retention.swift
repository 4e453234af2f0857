import SystemPackage

extension RelayLogWriter {
    /// Records how far the target has applied (where the applier will read next); ``sync()`` uses it
    /// for retention every ``RelayLogConfiguration/retentionCheckInterval``.
    public func noteApplied(_ location: RelayLogLocation) {
        if let applied, applied >= location { return }
        applied = location
    }

    /// Deletes whole closed segments, oldest first, that retention allows:
    ///
    /// - with a target (``RelayLogConfiguration/hasTarget``), only segments applied in full
    ///   (`appliedUpTo` is in a later segment); without one, any closed segment;
    /// - and only while the oldest is older than ``RelayLogConfiguration/retentionMaxAge`` or the log
    ///   is larger than ``RelayLogConfiguration/retentionMaxBytes``.
    ///
    /// The segment being written is never deleted, nor any segment after one that must stay (the
    /// log never has holes). A lagging target therefore lets the log grow past the size limit: the
    /// backlog is kept, and a full disk stalls the writer rather than losing unapplied data.
    ///
    /// - Parameters:
    ///   - appliedUpTo: where the applier will read next; nil when nothing was applied.
    ///   - now: the wall clock, seconds since the epoch (tests pass their own).
    /// - Returns: the names of the deleted segments.
    @discardableResult
    public func purge(appliedUpTo: RelayLogLocation?, now: Int64? = nil) throws(RelayLogError) -> [String] {
        try checkUsable()
        guard let current else { return [] }
        if let appliedUpTo { noteApplied(appliedUpTo) }
        let now = now ?? wallClockSeconds()
        var total = segments.reduce(Int64(0)) { $0 + ($1.number == current.number ? logicalSize : $1.size) }
        var deleted: [String] = []
        while let oldest = segments.first, oldest.number != current.number {
            if configuration.hasTarget {
                guard let applied, applied.segment > oldest.number else { break }
            }
            let tooOld = configuration.retentionMaxAge.map { now - oldest.modified >= $0.components.seconds } ?? false
            let tooLarge = configuration.retentionMaxBytes.map { total > $0 } ?? false
            guard tooOld || tooLarge else { break }
            let path = directory.appending(oldest.fileName)
            if case .failure(let error) = FileSystem.removeFile(path), error != .noSuchFileOrDirectory {
                throw .system(error, "cannot delete the segment", path: path)
            }
            total -= oldest.size
            deleted.append(oldest.fileName)
            segments.removeFirst()
        }
        if !deleted.isEmpty {
            do throws(Errno) {
                try directoryDescriptor.fullSync()
            } catch {
                throw stall(.system(error, "cannot fsync the log directory", path: directory))
            }
        }
        return deleted
    }
}
