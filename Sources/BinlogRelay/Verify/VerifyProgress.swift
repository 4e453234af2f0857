#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Progress on standard error: a bar redrawn in place on a terminal (tables done/total, rows,
/// rate, the table being compared), one plain line per table otherwise (logs, CI).
final class VerifyProgress {
    let isTerminal: Bool
    let enabled: Bool
    private var totalTables = 0
    private var tablesDone = 0
    private var rows: UInt64 = 0
    private var current = ""
    private let started = ContinuousClock.now
    private var lastDraw: ContinuousClock.Instant?

    init(enabled: Bool) {
        self.enabled = enabled
        isTerminal = isatty(STDERR_FILENO) != 0
    }

    var elapsedSeconds: Double {
        (ContinuousClock.now - started).seconds
    }

    func begin(tables: Int) {
        totalTables = tables
        if enabled && !isTerminal { writeLine("verify: \(tables) tables to compare") }
    }

    func tableStarted(_ name: String) {
        current = name
        draw(force: true)
    }

    func chunkDone(rows count: UInt64) {
        rows += count
        draw(force: false)
    }

    func tableDone(_ result: TableResult) {
        tablesDone += 1
        guard enabled else { return }
        if isTerminal {
            draw(force: true)
        } else {
            let what: String
            switch result.status {
            case .equal: what = "equal, \(result.rows) rows in \(result.chunks) chunk\(result.chunks == 1 ? "" : "s")"
            case .different: what = "DIFFERENT in \(result.differences.count) of \(result.chunks) chunks"
            case .missingOnTarget: what = "missing on the target"
            case .missingOnSource: what = "only on the target"
            case .columnsDiffer: what = "columns differ"
            }
            writeLine("verify: [\(tablesDone)/\(totalTables)] \(result.source): \(what)")
        }
    }

    /// A message that must not be overwritten by the bar.
    func note(_ text: String) {
        guard enabled else { return }
        if isTerminal { clear() }
        writeLine("verify: \(text)")
        if isTerminal { draw(force: true) }
    }

    func finish() {
        if enabled && isTerminal { clear() }
    }

    private func draw(force: Bool) {
        guard enabled && isTerminal else { return }
        let now = ContinuousClock.now
        if !force, let lastDraw, now - lastDraw < .milliseconds(100) { return }
        lastDraw = now
        let width = 24
        let filled = totalTables == 0 ? width : width * tablesDone / totalTables
        let bar = ProgressText.bar(filled: filled, width: width)
        let seconds = max(elapsedSeconds, 0.001)
        let rate = ProgressText.count(UInt64(Double(rows) / seconds))
        var line = "\(bar) \(tablesDone)/\(totalTables) tables  \(ProgressText.count(rows)) rows  \(rate) rows/s  \(current)"
        if line.count > 120 { line = String(line.prefix(119)) + "…" }
        emit("\r\u{1B}[2K" + line)
    }

    private func clear() { emit("\r\u{1B}[2K") }

    private func writeLine(_ line: String) { emit(line + "\n") }

    private func emit(_ text: String) {
        _ = text.withCString { write(STDERR_FILENO, $0, strlen($0)) }
    }
}
