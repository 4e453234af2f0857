import BinlogFormat

/// The GTIDs a log position stands for, in the source's dialect.
///
/// - MySQL: the executed set, "uuid:1-100:105,uuid2:tag:1-3" (every GTID event seen, united with
///   the PREVIOUS_GTIDS events and the seed). Resume with COM_BINLOG_DUMP_GTID and this set.
/// - MariaDB: the last GTID per replication domain, "0-1-42,7-1-3" (what `gtid_slave_pos` holds).
///   GTID_LIST events set the domains they list. Resume with `SET @slave_connect_state=…`.
///
/// Adding a GTID that extends the last interval of its source (the common case) changes the set in
/// place without allocating.
public struct GTIDState: Sendable, Equatable, CustomStringConvertible {
    /// MySQL: one entry per source UUID and tag, sorted; intervals sorted, disjoint, end exclusive.
    struct Entry: Sendable, Equatable {
        var sid: UUID16
        var tag: String?
        var intervals: [Range<Int64>]
    }

    private(set) var mysql: [Entry] = []
    /// MariaDB: the last GTID per domain.
    private(set) var mariadb: [UInt32: MariaDBGTID] = [:]
    /// Index of the MySQL entry that took the last GTID (the next one is most likely the same).
    private var lastEntry = 0

    public init() {}

    /// Parses a MySQL GTID set ("uuid:1-5:7,uuid2:tag:1-3") or a MariaDB GTID position
    /// ("0-1-42,7-1-3"); nil when the text is neither. An empty text is the empty state.
    public init?(parsing text: String) {
        for item in text.split(separator: ",") {
            let part = item.trimmingWhitespace()
            if part.isEmpty { continue }
            if let gtid = MariaDBGTID(part) {
                mariadb[gtid.domainID] = gtid
                continue
            }
            let fields = part.split(separator: ":", omittingEmptySubsequences: false)
            guard fields.count >= 2, let sid = UUID16(fields[0]) else { return nil }
            var tag: String?
            for field in fields.dropFirst() {
                let bounds = field.split(separator: "-", omittingEmptySubsequences: false)
                if let first = bounds.first, let start = Int64(first), bounds.count <= 2 {
                    guard let last = bounds.count == 2 ? Int64(bounds[1]) : start, start >= 1, last >= start else {
                        return nil
                    }
                    insert(sid: sid, tag: tag, start..<(last + 1))
                } else {
                    guard !field.isEmpty else { return nil }
                    tag = String(field)
                }
            }
        }
    }

    public var isEmpty: Bool { mysql.isEmpty && mariadb.isEmpty }

    /// The text form: MySQL's set syntax, or MariaDB's comma-separated GTIDs by domain.
    public var description: String {
        // One item per UUID, its untagged intervals first, then each tag's (as MySQL prints them).
        var parts: [String] = []
        var previous: UUID16?
        for entry in mysql {
            var text = previous == entry.sid ? parts.removeLast() : entry.sid.description
            if let tag = entry.tag { text += ":" + tag }
            for interval in entry.intervals {
                text += interval.count == 1 ? ":\(interval.lowerBound)" : ":\(interval.lowerBound)-\(interval.upperBound - 1)"
            }
            parts.append(text)
            previous = entry.sid
        }
        parts += mariadb.keys.sorted().map { mariadb[$0]!.description }
        return parts.joined(separator: ",")
    }

    /// Whether the state holds this MySQL GTID.
    public func contains(sid: UUID16, tag: String? = nil, gno: Int64) -> Bool {
        guard let entry = mysql.first(where: { $0.sid == sid && $0.tag == tag }) else { return false }
        return entry.intervals.contains { $0.contains(gno) }
    }

    /// The MariaDB GTID last seen in a domain.
    public func mariadbGTID(domain: UInt32) -> MariaDBGTID? { mariadb[domain] }

    /// How many transactions this state holds that `earlier` does not: for MariaDB the sequence
    /// numbers gained per domain, for MySQL the GTIDs in this set and not in the other. Nil when
    /// the two are of different dialects or `earlier` is not behind this one.
    public func transactionCount(after earlier: GTIDState) -> UInt64? {
        if !mariadb.isEmpty || !earlier.mariadb.isEmpty {
            guard mysql.isEmpty, earlier.mysql.isEmpty else { return nil }
            var count: UInt64 = 0
            for (domain, gtid) in mariadb {
                let before = earlier.mariadb[domain]?.sequence ?? 0
                if gtid.sequence > before { count += gtid.sequence - before }
            }
            return count
        }
        var count: Int64 = 0
        for entry in mysql {
            for interval in entry.intervals {
                count += Int64(interval.count)
                if let other = earlier.mysql.first(where: { $0.sid == entry.sid && $0.tag == entry.tag }) {
                    for covered in other.intervals {
                        let low = max(covered.lowerBound, interval.lowerBound)
                        let high = min(covered.upperBound, interval.upperBound)
                        if high > low { count -= high - low }
                    }
                }
            }
        }
        return UInt64(max(0, count))
    }

    // MARK: - Changes

    /// Adds one MySQL GTID.
    mutating func insert(sid: UUID16, tag: String?, gno: Int64) {
        insert(sid: sid, tag: tag, gno..<(gno + 1))
    }

    /// Adds a range of MySQL GNOs.
    mutating func insert(sid: UUID16, tag: String?, _ range: Range<Int64>) {
        guard !range.isEmpty else { return }
        let index = entryIndex(sid: sid, tag: tag)
        lastEntry = index
        // Fast path: the range extends or falls inside the last interval.
        if let last = mysql[index].intervals.last, range.lowerBound >= last.lowerBound {
            if range.upperBound <= last.upperBound { return }
            if range.lowerBound <= last.upperBound {
                let count = mysql[index].intervals.count
                mysql[index].intervals[count - 1] = last.lowerBound..<range.upperBound
                return
            }
            mysql[index].intervals.append(range)
            return
        }
        // General case: merge with every interval it touches.
        var merged = range
        var kept: [Range<Int64>] = []
        var inserted = false
        for interval in mysql[index].intervals {
            if interval.upperBound < merged.lowerBound {
                kept.append(interval)
            } else if interval.lowerBound > merged.upperBound {
                if !inserted {
                    kept.append(merged)
                    inserted = true
                }
                kept.append(interval)
            } else {
                merged = min(merged.lowerBound, interval.lowerBound)..<max(merged.upperBound, interval.upperBound)
            }
        }
        if !inserted { kept.append(merged) }
        mysql[index].intervals = kept
    }

    /// Adds every GTID of a MySQL set (a PREVIOUS_GTIDS event).
    mutating func formUnion(_ set: GTIDSet) {
        for entry in set.entries {
            for interval in entry.intervals where interval.end > interval.start {
                insert(sid: entry.sid, tag: entry.tag, interval.start..<interval.end)
            }
        }
    }

    /// Records a MariaDB GTID as the last of its domain.
    mutating func record(_ gtid: MariaDBGTID) {
        mariadb[gtid.domainID] = gtid
    }

    /// Applies a MariaDB GTID_LIST (the binlog state at that point): the last GTID listed for each
    /// domain becomes that domain's.
    mutating func apply(list: [MariaDBGTID]) {
        // Never move a domain backwards: a list re-sent with a file's header events (a dump that
        // restarts inside that file) describes the file's start, not the log's end.
        for gtid in list where (mariadb[gtid.domainID]?.sequence ?? 0) < gtid.sequence { mariadb[gtid.domainID] = gtid }
    }

    private mutating func entryIndex(sid: UUID16, tag: String?) -> Int {
        if lastEntry < mysql.count, mysql[lastEntry].sid == sid, mysql[lastEntry].tag == tag { return lastEntry }
        if let index = mysql.firstIndex(where: { $0.sid == sid && $0.tag == tag }) { return index }
        let position =
            mysql.firstIndex(where: { ($0.sid, $0.tag ?? "") > (sid, tag ?? "") }) ?? mysql.count
        mysql.insert(Entry(sid: sid, tag: tag, intervals: []), at: position)
        return position
    }

    public static func == (lhs: GTIDState, rhs: GTIDState) -> Bool {
        lhs.mysql == rhs.mysql && lhs.mariadb == rhs.mariadb
    }

    // MARK: - Binary forms (for the events the log writes at the start of each segment)

    /// The body of a MySQL PREVIOUS_GTIDS event (`Gtid_set::encode`); the tagged form of MySQL 8.4
    /// when any entry has a tag.
    func previousGTIDsBody() -> [UInt8] {
        var bytes: [UInt8] = []
        let tagged = mysql.contains { $0.tag != nil }
        let count = UInt64(mysql.count)
        bytes.appendLittleEndian(tagged ? (1 << 56) | (count << 8) | 1 : count, width: 8)
        for entry in mysql {
            bytes.appendBigEndian(entry.sid.high, width: 8)
            bytes.appendBigEndian(entry.sid.low, width: 8)
            if tagged {
                let tag = Array((entry.tag ?? "").utf8)
                bytes.append(UInt8(tag.count << 1))  // MySQL serialization varlen, one byte below 128
                bytes += tag
            }
            bytes.appendLittleEndian(UInt64(entry.intervals.count), width: 8)
            for interval in entry.intervals {
                bytes.appendLittleEndian(UInt64(interval.lowerBound), width: 8)
                bytes.appendLittleEndian(UInt64(interval.upperBound), width: 8)
            }
        }
        return bytes
    }

    /// The body of a MariaDB GTID_LIST event: count, then domain, server id, sequence per domain.
    func gtidListBody() -> [UInt8] {
        var bytes: [UInt8] = []
        let domains = mariadb.keys.sorted()
        bytes.appendLittleEndian(UInt64(domains.count), width: 4)
        for domain in domains {
            let gtid = mariadb[domain]!
            bytes.appendLittleEndian(UInt64(gtid.domainID), width: 4)
            bytes.appendLittleEndian(UInt64(gtid.serverID), width: 4)
            bytes.appendLittleEndian(gtid.sequence, width: 8)
        }
        return bytes
    }
}

extension [UInt8] {
    mutating func appendLittleEndian(_ value: UInt64, width: Int) {
        for index in 0..<width { append(UInt8(truncatingIfNeeded: value >> (8 * UInt64(index)))) }
    }

    mutating func appendBigEndian(_ value: UInt64, width: Int) {
        for index in (0..<width).reversed() { append(UInt8(truncatingIfNeeded: value >> (8 * UInt64(index)))) }
    }
}

extension Substring {
    func trimmingWhitespace() -> Substring {
        var text = self
        while let first = text.first, first == " " || first == "\n" || first == "\t" { text.removeFirst() }
        while let last = text.last, last == " " || last == "\n" || last == "\t" { text.removeLast() }
        return text
    }
}

extension GTIDState {
    /// Whether the state is MariaDB's (per-domain GTIDs) rather than a MySQL set.
    public var isMariaDB: Bool { !mariadb.isEmpty && mysql.isEmpty }

    /// The MySQL set in the binary form COM_BINLOG_DUMP_GTID takes (MySQL `Gtid_set::encode`):
    /// source count, then per source the UUID, the interval count and start/end pairs (end
    /// exclusive). Tagged sets (8.4+) use the tagged format: the count word carries format 1 in its
    /// first and last byte, and each source a tag as a length-prefixed string.
    public var mysqlEncoded: [UInt8] {
        var bytes: [UInt8] = []
        func append(_ value: UInt64) { for shift in stride(from: 0, to: 64, by: 8) { bytes.append(UInt8(truncatingIfNeeded: value >> UInt64(shift))) } }
        let tagged = mysql.contains { $0.tag != nil }
        append(tagged ? 1 | UInt64(mysql.count) << 8 | 1 << 56 : UInt64(mysql.count))
        for entry in mysql {
            for shift in stride(from: 56, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: entry.sid.high >> UInt64(shift))) }
            for shift in stride(from: 56, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: entry.sid.low >> UInt64(shift))) }
            if tagged {
                let tag = Array((entry.tag ?? "").utf8)
                bytes.append(UInt8(tag.count) << 1)  // serialization varint; tags are at most 32 bytes
                bytes.append(contentsOf: tag)
            }
            append(UInt64(entry.intervals.count))
            for interval in entry.intervals {
                append(UInt64(bitPattern: interval.lowerBound))
                append(UInt64(bitPattern: interval.upperBound))
            }
        }
        return bytes
    }
}
