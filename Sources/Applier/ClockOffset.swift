import MySQLClient

#if canImport(Glibc)
import Glibc
#endif

/// How far a server's clock is from this machine's: lag is measured from the source's commit
/// timestamps, so a source clock a few seconds off would otherwise show as lag (or hide it).
public struct ClockOffset: Sendable, Equatable {
    /// Server clock minus local clock, in seconds.
    public var offset: Double
    /// Half the round trip of the best sample: the offset is right to within this.
    public var uncertainty: Double

    public init(offset: Double, uncertainty: Double) {
        self.offset = offset
        self.uncertainty = uncertainty
    }

    /// The statement whose answer is the server's clock, in seconds since the epoch.
    public static let query = "SELECT UNIX_TIMESTAMP(SYSDATE(6))"

    /// One sample: the server read its clock (`server`) between `sent` and `received` (this
    /// machine's clock); taken to be in the middle of that round trip, as NTP does.
    public init(server: Double, sent: Double, received: Double) {
        self.init(offset: server - (sent + received) / 2, uncertainty: (received - sent) / 2)
    }

    /// Asks the server for its time a few times and keeps the sample with the shortest round trip.
    /// Nil when the server cannot be asked.
    public static func measure(_ connection: MySQLConnection, samples: Int = 3) -> ClockOffset? {
        var best: ClockOffset?
        for _ in 0..<samples {
            let sent = wallClockSeconds()
            guard let text = try? connection.query(query).scalar, let server = Double(text) else { return best }
            let sample = ClockOffset(server: server, sent: sent, received: wallClockSeconds())
            if best.map({ sample.uncertainty < $0.uncertainty }) ?? true { best = sample }
        }
        return best
    }
}

/// Seconds since the epoch on this machine's clock, to the microsecond.
public func wallClockSeconds() -> Double {
    var now = timespec()
    clock_gettime(CLOCK_REALTIME, &now)
    return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
}
