import Synchronization

/// The last hour of lag, one sample a second, kept in memory for the status page's chart
/// (`GET /lag-history`).
final class LagHistory: Sendable {
    struct Sample: Sendable {
        var time: Double
        var receive: Double?
        var durable: Double?
        var apply: Double?
    }

    private struct Ring {
        var samples: [Sample] = []
        var next = 0
    }

    let capacity: Int
    private let ring = Mutex(Ring())

    init(capacity: Int = 3600) { self.capacity = capacity }

    func record(_ report: StatusReport) {
        let sample = Sample(time: report.time, receive: report.lag.receive, durable: report.lag.relay, apply: report.lag.apply)
        ring.withLock { ring in
            if ring.samples.count < capacity {
                ring.samples.append(sample)
            } else {
                ring.samples[ring.next] = sample
            }
            ring.next = (ring.next + 1) % capacity
        }
    }

    /// Oldest first.
    var samples: [Sample] {
        ring.withLock { ring in
            ring.samples.count < capacity ? ring.samples : Array(ring.samples[ring.next...] + ring.samples[..<ring.next])
        }
    }

    /// `{"t":[…],"receive":[…],"relay":[…],"apply":[…]}`, nulls where unknown, times in seconds.
    func json() -> [UInt8] {
        let samples = self.samples
        func number(_ value: Double?) -> String {
            guard let value, value.isFinite else { return "null" }
            return String((value * 1000).rounded() / 1000)
        }
        var text = "{\"t\":["
        text += samples.map { String(Int64($0.time.rounded())) }.joined(separator: ",")
        text += "],\"receive\":[" + samples.map { number($0.receive) }.joined(separator: ",")
        text += "],\"relay\":[" + samples.map { number($0.durable) }.joined(separator: ",")
        text += "],\"apply\":[" + samples.map { number($0.apply) }.joined(separator: ",") + "]}"
        return Array(text.utf8)
    }
}
