import Applier
import Logging
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// `logging.format: json`: one JSON object per line on standard error, for log shippers
/// (`{"time":…,"level":"info","logger":"binlog-relay.source","message":…,"durable":"…"}`): the
/// metadata (positions, durations) become fields of their own.
struct JSONLogHandler: LogHandler {
    let label: String
    var logLevel: Logger.Level = .info
    var metadata: Logger.Metadata = [:]

    init(label: String) { self.label = label }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    private static let output = Mutex(())

    func log(
        level: Logger.Level, message: Logger.Message, metadata explicit: Logger.Metadata?, source: String, file: String,
        function: String, line: UInt
    ) {
        var fields = metadata
        if let explicit { fields.merge(explicit) { _, new in new } }
        var text = "{\"time\":\(Self.timestamp()),\"level\":\"\(level.rawValue)\",\"logger\":\(jsonQuoted(label)),\"message\":\(jsonQuoted(message.description))"
        for key in fields.keys.sorted() where !["time", "level", "logger", "message"].contains(key) {
            text += ",\(jsonQuoted(key)):\(jsonQuoted(fields[key]!.description))"
        }
        text += "}\n"
        Self.output.withLock { _ in
            var bytes = Array(text.utf8)[...]
            while !bytes.isEmpty {
                let written = bytes.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
                guard written > 0 else { break }
                bytes = bytes.dropFirst(written)
            }
        }
    }

    /// Seconds since the epoch, with microseconds.
    static func timestamp() -> String {
        let now = wallClockSeconds()
        let whole = Int64(now)
        let micros = Int64(((now - Double(whole)) * 1_000_000).rounded())
        let fraction = String(min(micros, 999_999))
        return "\(whole).\(String(repeating: "0", count: 6 - fraction.count))\(fraction)"
    }
}
