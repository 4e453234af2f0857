import Applier
import Logging

#if canImport(Glibc)
import Glibc
#endif

/// Shows a seed's progress: on a terminal a bar per table being copied and one for the whole
/// (rows, bytes, rate, time left), redrawn in place; otherwise a log line every ten seconds and
/// one per table done.
final class SeedProgressDisplay {
    enum Mode: String {
        case auto, bars, lines, none
    }

    private let mode: Mode
    private let progress: SeedProgress
    private let logger: Logger
    private let started = ContinuousClock.now
    private var lastLine = ContinuousClock.now
    private var drawnLines = 0
    private var reportedDone: Set<Int> = []
    /// Rate over the last few seconds: (time, rows, bytes) samples.
    private var samples: [(ContinuousClock.Instant, UInt64, UInt64)] = []

    init(mode: Mode, progress: SeedProgress, logger: Logger) {
        self.mode = mode == .auto ? (isatty(2) != 0 ? .bars : .lines) : mode
        self.progress = progress
        self.logger = logger
    }

    func update() {
        let snapshot = progress.snapshot
        let now = ContinuousClock.now
        samples.append((now, snapshot.rowsThisRun, snapshot.bytesThisRun))
        while let first = samples.first, first.0.duration(to: now) > .seconds(5), samples.count > 2 { samples.removeFirst() }
        switch mode {
        case .bars: draw(snapshot)
        case .lines: log(snapshot, now: now)
        case .auto, .none: break
        }
    }

    func finish() {
        let snapshot = progress.snapshot
        guard !snapshot.tables.isEmpty else { return }  // stopped before the copy began
        if mode == .bars {
            draw(snapshot)
        } else if mode == .lines {
            log(snapshot, now: .now, force: true)
        }
    }

    // MARK: - Figures

    private var rate: (rows: Double, bytes: Double) {
        guard let first = samples.first, let last = samples.last, first.0 < last.0 else { return (0, 0) }
        let seconds = first.0.duration(to: last.0).seconds
        return (Double(last.1 - first.1) / seconds, Double(last.2 - first.2) / seconds)
    }

    private static func totals(_ snapshot: SeedProgress.Snapshot) -> (rows: UInt64, estimate: UInt64, bytes: UInt64) {
        var rows: UInt64 = 0
        var estimate: UInt64 = 0
        var bytes: UInt64 = 0
        for table in snapshot.tables {
            rows += table.rows
            estimate += max(table.rows, table.estimatedRows)
            bytes += table.bytes
        }
        return (rows, estimate, bytes)
    }

    // MARK: - Terminal

    private func draw(_ snapshot: SeedProgress.Snapshot) {
        var lines: [String] = []
        let (rows, estimate, bytes) = Self.totals(snapshot)
        let rate = self.rate
        let active = snapshot.tables.indices.filter { !snapshot.tables[$0].done && snapshot.tables[$0].rows > snapshot.tables[$0].rowsBefore }
        let doneCount = snapshot.tables.filter(\.done).count
        let width = min(40, snapshot.tables.map(\.name.count).max() ?? 10)
        for index in active.prefix(12) {
            let table = snapshot.tables[index]
            let total = max(table.rows, table.estimatedRows)
            let fraction = total == 0 ? 0 : Double(table.rows) / Double(total)
            let name = table.name.count > width ? String(table.name.prefix(width - 1)) + "…" : table.name.padding(width)
            lines.append(
                "\(name) \(ProgressText.bar(fraction)) \(Int(fraction * 100))% \(ProgressText.count(Double(table.rows)))/~\(ProgressText.count(Double(total))) rows \(ProgressText.bytes(Double(table.bytes)))"
            )
        }
        if active.count > 12 { lines.append("… and \(active.count - 12) more tables being copied") }
        let fraction = estimate == 0 ? 0 : Double(rows) / Double(estimate)
        let left = rate.rows > 0 ? Double(estimate - min(estimate, rows)) / rate.rows : .nan
        let elapsed = started.duration(to: .now).seconds
        lines.append(
            "\("total".padding(width)) \(ProgressText.bar(fraction)) \(Int(fraction * 100))% \(ProgressText.count(Double(rows)))/~\(ProgressText.count(Double(estimate))) rows \(ProgressText.bytes(Double(bytes))) \(ProgressText.count(rate.rows)) rows/s \(ProgressText.bytes(rate.bytes))/s elapsed \(ProgressText.time(elapsed)) left \(ProgressText.time(left)) — \(doneCount)/\(snapshot.tables.count) tables done, \(snapshot.phase)"
        )
        var text = ""
        if drawnLines > 0 { text += "\u{1B}[\(drawnLines)A" }
        for line in lines { text += "\u{1B}[2K\r" + line + "\n" }
        // Lines left over from a longer frame.
        if drawnLines > lines.count {
            for _ in lines.count..<drawnLines { text += "\u{1B}[2K\n" }
            text += "\u{1B}[\(drawnLines - lines.count)A"
        }
        drawnLines = lines.count
        _ = text.withCString { write(2, $0, strlen($0)) }
    }

    // MARK: - Lines

    private func log(_ snapshot: SeedProgress.Snapshot, now: ContinuousClock.Instant, force: Bool = false) {
        for (index, table) in snapshot.tables.enumerated() where table.done && !reportedDone.contains(index) {
            reportedDone.insert(index)
            if table.rows > table.rowsBefore || !force {
                logger.info("table copied", metadata: ["table": "\(table.name)", "rows": "\(table.rows)", "bytes": "\(table.bytes)"])
            }
        }
        guard force || lastLine.duration(to: now) >= .seconds(10) else { return }
        lastLine = now
        let (rows, estimate, bytes) = Self.totals(snapshot)
        let rate = self.rate
        let left = rate.rows > 0 ? Double(estimate - min(estimate, rows)) / rate.rows : .nan
        logger.info(
            "seed progress",
            metadata: [
                "phase": "\(snapshot.phase)", "rows": "\(rows)", "rows_estimated": "\(estimate)", "bytes": "\(bytes)",
                "rows_per_second": "\(Int(rate.rows))", "left": "\(ProgressText.time(left))",
                "tables_done": "\(snapshot.tables.filter(\.done).count)/\(snapshot.tables.count)",
            ])
    }
}

extension String {
    func padding(_ width: Int) -> String { count >= width ? self : self + String(repeating: " ", count: width - count) }
}
