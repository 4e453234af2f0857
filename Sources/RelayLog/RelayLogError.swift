import BinlogFormat
import SystemPackage

/// Why the relay log refused an operation.
///
/// Errors carry the file and the system error (`errno`) when a system call failed, and the
/// decode error when an event could not be read. Compare ``code``s, not messages.
public struct RelayLogError: Error, Sendable, CustomStringConvertible {
    /// A stable classification.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String, Hashable, Sendable {
            case io, diskFull, corrupt, badEvent, locked, misuse
        }
        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// A system call on the log's files failed (other than for lack of space).
        public static let io = Code(.io)
        /// The file system is full (ENOSPC, EDQUOT, EFBIG). The writer stops accepting events; what
        /// was durable stays durable. Free space and restart.
        public static let diskFull = Code(.diskFull)
        /// The log on disk is damaged beyond a torn tail (a missing segment, a closed segment that
        /// does not end where the next begins): the operator must look.
        public static let corrupt = Code(.corrupt)
        /// An event handed to ``RelayLogWriter/append(_:)`` is not a valid event (bad CRC, wrong
        /// size, undecodable): the stream is damaged, the log is not. Reconnect and resume.
        public static let badEvent = Code(.badEvent)
        /// Another process holds the log directory.
        public static let locked = Code(.locked)
        /// The API was used out of order (for example an event before any FORMAT_DESCRIPTION).
        public static let misuse = Code(.misuse)

        public var description: String { base.rawValue }
    }

    public var code: Code
    public var message: String
    /// The file or directory concerned, when there is one.
    public var path: String?
    /// The system error, when a system call failed.
    public var errno: Errno?
    /// The decode error, when an event could not be read.
    public var decodeError: BinlogError?

    public init(
        _ code: Code, _ message: String, path: String? = nil, errno: Errno? = nil, decodeError: BinlogError? = nil
    ) {
        self.code = code
        self.message = message
        self.path = path
        self.errno = errno
        self.decodeError = decodeError
    }

    public var description: String {
        var text = "\(code): \(message)"
        if let path { text += " (\(path))" }
        if let errno { text += ": \(errno) (errno \(errno.rawValue))" }
        if let decodeError { text += ": \(decodeError)" }
        return text
    }

    /// The error for a failed system call: `diskFull` for ENOSPC, EDQUOT and EFBIG, `io` otherwise.
    static func system(_ errno: Errno, _ what: String, path: FilePath?) -> RelayLogError {
        let path = path.map { $0.string }
        if errno == .noSpace || errno == .diskQuotaExceeded || errno == .fileTooLarge {
            return RelayLogError(
                .diskFull, "disk full: \(what); the relay log is stalled at its last durable position (free space,"
                    + " or lower the retention limits, then restart)", path: path, errno: errno)
        }
        return RelayLogError(.io, what, path: path, errno: errno)
    }
}
