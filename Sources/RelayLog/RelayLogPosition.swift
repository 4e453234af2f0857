/// A place in the source's binlog: a file name and the byte offset where the next event starts.
public struct SourcePosition: Sendable, Hashable, CustomStringConvertible {
    /// The source's binlog file name ("mysql-bin.000042"); empty while the stream has not named it.
    public var file: String
    /// Offset in that file of the next event (an event header's `log_pos` is where the event ends).
    public var position: UInt64

    public init(file: String, position: UInt64) {
        self.file = file
        self.position = position
    }

    /// "mysql-bin.000042:1234".
    public var description: String { "\(file):\(position)" }
}

/// A place in the local log: a segment number and a byte offset in that segment file.
public struct RelayLogLocation: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The segment's number (`relay-000042.bin` is 42).
    public var segment: Int
    /// Byte offset in the segment file.
    public var offset: Int64

    public init(segment: Int, offset: Int64) {
        self.segment = segment
        self.offset = offset
    }

    public static func < (lhs: RelayLogLocation, rhs: RelayLogLocation) -> Bool {
        (lhs.segment, lhs.offset) < (rhs.segment, rhs.offset)
    }

    /// "relay-000042.bin:1234".
    public var description: String { "\(Segment.fileName(segment)):\(offset)" }
}

/// Where the log ends after a complete transaction: the local location, the matching source
/// position and GTID state, and what a restarted stream needs to be decoded.
public struct RelayLogPosition: Sendable, Equatable, CustomStringConvertible {
    /// End of the transaction in the local log (where the next event will be written).
    public var location: RelayLogLocation
    /// Where the source must resume: just after the transaction.
    public var source: SourcePosition
    /// GTIDs of every transaction up to here (MySQL executed set, or MariaDB position per domain),
    /// as far as the log has seen them (plus any seed given to ``RelayLogWriter/seed(source:gtidState:)``).
    public var gtidState: GTIDState
    /// The FORMAT_DESCRIPTION in force, as received (header, body and checksum).
    public var formatDescription: [UInt8]
    /// Header timestamp (seconds since the epoch, source clock) of the last source event.
    public var timestamp: UInt32
    /// Commit time of the last transaction in microseconds since the epoch: the original commit
    /// timestamp of MySQL 8 GTID events, else the header timestamp of the event that ended it.
    public var commitTimestampMicroseconds: UInt64?

    public init(
        location: RelayLogLocation, source: SourcePosition, gtidState: GTIDState, formatDescription: [UInt8],
        timestamp: UInt32, commitTimestampMicroseconds: UInt64?
    ) {
        self.location = location
        self.source = source
        self.gtidState = gtidState
        self.formatDescription = formatDescription
        self.timestamp = timestamp
        self.commitTimestampMicroseconds = commitTimestampMicroseconds
    }

    public var description: String {
        let gtid = gtidState.isEmpty ? "" : " gtid \(gtidState)"
        return "\(location) (source \(source)\(gtid))"
    }
}
