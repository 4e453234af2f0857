import Benchmark
import BinlogFormat
import DecodeWorkload
import Foundation

// One iteration = one full decode of a file held in memory: every event framed and decoded,
// CRC32 verified, every value of every row image visited. With CI set, only the counts that
// stay stable on shared machines are measured (instructions, mallocs), as hummingbird does.

/// The committed fixtures the suite decodes, relative to the repository root. The names carry
/// no spaces: package-benchmark writes threshold files with `_` for spaces but looks them up
/// by the name as it is.
let fixtures: [(name: String, path: String)] = [
    ("mysql-8.0-binlog.000693", "Fixtures/peers/mysql-cdc-rs/8.0/folder/binlog.000693"),
    ("sakila-WRITE_ROWS_V1", "Fixtures/peers/mysql-binlog-connector-java/mysql-bin.sakila"),
    ("mariadb-10.11-every-type-full", "Fixtures/mariadb-10.11/every-type-full.000001"),
    ("mariadb-poc-repl-bin.000002", "Fixtures/peers/mariadb-poc/domain_id_0/mariadb-repl-bin.000002"),
]

let repositoryRoot = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent()  // DecodeBenchmarks/
    .deletingLastPathComponent()  // Benchmarks/Benchmarks/
    .deletingLastPathComponent()  // Benchmarks/
    .deletingLastPathComponent()

let isCI = ProcessInfo.processInfo.environment["CI"] != nil

let megabytesPerSecond = BenchmarkMetric.custom("MB/s", polarity: .prefersLarger, useScalingFactor: false)
let eventsPerSecond = BenchmarkMetric.custom("events/s", polarity: .prefersLarger, useScalingFactor: false)
let rowsPerSecond = BenchmarkMetric.custom("rows/s", polarity: .prefersLarger, useScalingFactor: false)

/// A file loaded once per benchmark run, with what one decode of it goes through.
final class Input: @unchecked Sendable {
    let files: [LoadedFile]
    let totals: DecodeTotals

    init(paths: [String]) throws {
        files = try paths.map { try LoadedFile(path: $0) }
        var sum = DecodeTotals()
        for file in files {
            let one = try decodeEveryValue(file.bytes, file: file.name)
            sum.bytes += one.bytes
            sum.events += one.events
            sum.rowEvents += one.rowEvents
            sum.rows += one.rows
            sum.values += one.values
        }
        totals = sum
    }

    func decodeAll() throws {
        for file in files {
            sink(try decodeEveryValue(file.bytes))
        }
    }
}

/// Row events of one file, decoded once in setup: the measured part only iterates rows.
final class DecodedRows: @unchecked Sendable {
    let file: LoadedFile
    let events: [RowsEvent]
    let rows: Int

    init(path: String) throws {
        file = try LoadedFile(path: path)
        events = try collectRowEvents(file.bytes)
        var totals = DecodeTotals()
        for event in events { try visitEveryValue(of: event, into: &totals) }
        rows = totals.rows
    }
}

func record(_ benchmark: Benchmark, _ totals: DecodeTotals, since start: ContinuousClock.Instant) {
    let elapsed = ContinuousClock.now - start
    let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
    guard seconds > 0 else { return }
    benchmark.measurement(megabytesPerSecond, Int(Double(totals.bytes) / 1_048_576 / seconds))
    benchmark.measurement(eventsPerSecond, Int(Double(totals.events) / seconds))
    benchmark.measurement(rowsPerSecond, Int(Double(totals.rows) / seconds))
}

let benchmarks: @Sendable () -> Void = {
    let thresholds: [BenchmarkMetric: BenchmarkThresholds] = [
        // Instructions may grow a little (toolchain, inlining); mallocs may not grow at all.
        .instructions: .init(relative: [.p90: 3.0]),
        .mallocCountTotal: .init(absolute: [.p90: 0]),
    ]
    Benchmark.defaultConfiguration = .init(
        metrics: isCI
            ? [.instructions, .mallocCountTotal]
            : [.wallClock, .throughput, .instructions, .mallocCountTotal, megabytesPerSecond, eventsPerSecond,
                rowsPerSecond],
        timeUnits: .milliseconds,
        warmupIterations: 1,
        scalingFactor: .one,
        maxDuration: isCI ? .seconds(1) : .seconds(3),
        maxIterations: isCI ? 5 : 1_000,
        thresholds: thresholds
    )

    var inputs = fixtures.map {
        (name: "Decode:" + $0.name, paths: [repositoryRoot.appendingPathComponent($0.path).path])
    }

    // The recorded sysbench binlogs (Benchmarks/scripts/record-sysbench-binlog.sh), when present:
    // hundreds of MB, never committed, so never in CI.
    let sysbench = repositoryRoot.appendingPathComponent("Benchmarks/data/sysbench")
    if !isCI, let names = try? FileManager.default.contentsOfDirectory(atPath: sysbench.path) {
        let files = names.filter { $0.hasPrefix("sysbench-bin.") }.sorted()
        if !files.isEmpty {
            inputs.append((name: "Decode:sysbench", paths: files.map { sysbench.appendingPathComponent($0).path }))
        }
    }

    for input in inputs {
        Benchmark(input.name) { benchmark, input in
            let start = ContinuousClock.now
            do {
                try input.decodeAll()
            } catch {
                benchmark.error("decode failed: \(error)")
                return
            }
            if !isCI { record(benchmark, input.totals, since: start) }
        } setup: {
            try Input(paths: input.paths)
        }
    }

    // Iterating every column of every row with events and table maps already decoded: the part
    // that runs once per row. Its mallocs divided by the row count are the mallocs per row.
    for fixture in fixtures {
        Benchmark("RowsOnly:" + fixture.name) { benchmark, decoded in
            var totals = DecodeTotals()
            do {
                for event in decoded.events { try visitEveryValue(of: event, into: &totals) }
            } catch {
                benchmark.error("row iteration failed: \(error)")
            }
            sink(totals)
        } setup: {
            try DecodedRows(path: repositoryRoot.appendingPathComponent(fixture.path).path)
        }
    }
}
