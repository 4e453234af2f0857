// decode-throughput: decodes every value of every row of the given binlog files, held in
// memory, several times, and prints MB/s, events/s and rows/s (CRC32 verified unless
// --no-verify-checksum). Used by Benchmarks/scripts/compare.sh.
//
// Usage: decode-throughput [--iterations N] [--min-seconds S] [--no-verify-checksum] [--tsv] FILE...
//   The files are one input: each iteration decodes all of them. Reports the median and the
//   best iteration. --iterations 1 --min-seconds 0 decodes once (whole-process timing).
import BinlogFormat
import DecodeWorkload

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

func fail(_ message: String) -> Never {
    var line = "decode-throughput: " + message + "\n"
    line.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
    exit(1)
}

var iterations = 5
var minimumSeconds = 1.0
var verifiesChecksums = true
var tsv = false
var paths: [String] = []
var arguments = CommandLine.arguments.dropFirst()
while let argument = arguments.popFirst() {
    switch argument {
    case "--iterations":
        guard let value = arguments.popFirst().flatMap(Int.init), value > 0 else { fail("--iterations needs a count") }
        iterations = value
    case "--min-seconds":
        guard let value = arguments.popFirst().flatMap(Double.init), value >= 0 else { fail("--min-seconds needs seconds") }
        minimumSeconds = value
    case "--no-verify-checksum":
        verifiesChecksums = false
    case "--tsv":
        tsv = true
    case "-h", "--help":
        print("usage: decode-throughput [--iterations N] [--min-seconds S] [--no-verify-checksum] [--tsv] FILE...")
        exit(0)
    default:
        paths.append(argument)
    }
}
guard !paths.isEmpty else { fail("no files given (--help for usage)") }

let files: [LoadedFile]
do {
    files = try paths.map { try LoadedFile(path: $0) }
} catch {
    fail("\(error)")
}

func now() -> Double {
    var time = timespec()
    clock_gettime(CLOCK_MONOTONIC, &time)
    return Double(time.tv_sec) + Double(time.tv_nsec) * 1e-9
}

func decodeAll(_ files: [LoadedFile], verifiesChecksums: Bool) -> DecodeTotals {
    var sum = DecodeTotals()
    for file in files {
        do {
            let one = try decodeEveryValue(file.bytes, file: file.path, verifiesChecksums: verifiesChecksums)
            sum.bytes += one.bytes
            sum.events += one.events
            sum.rowEvents += one.rowEvents
            sum.rows += one.rows
            sum.values += one.values
        } catch {
            fail("\(error)")
        }
    }
    return sum
}

var totals = DecodeTotals()
var times: [Double] = []
let started = now()
repeat {
    let start = now()
    totals = decodeAll(files, verifiesChecksums: verifiesChecksums)
    times.append(now() - start)
} while times.count < iterations || now() - started < minimumSeconds
times.sort()
let median = times[times.count / 2]
let best = times[0]

func fixed(_ value: Double, _ digits: Int) -> String {
    if digits == 0 { return String(Int(value.rounded())) }
    var scale = 1.0
    for _ in 0..<digits { scale *= 10 }
    let rounded = (value * scale).rounded() / scale
    var text = String(rounded)
    if let dot = text.firstIndex(of: ".") {
        let decimals = text.distance(from: dot, to: text.endIndex) - 1
        if decimals < digits { text += String(repeating: "0", count: digits - decimals) }
    } else if digits > 0 {
        text += "." + String(repeating: "0", count: digits)
    }
    return text
}

let megabytes = Double(totals.bytes) / 1_048_576
if tsv {
    // bytes events row_events rows values iterations median_s best_s MB/s events/s rows/s (median)
    print(
        [
            String(totals.bytes), String(totals.events), String(totals.rowEvents), String(totals.rows),
            String(totals.values), String(times.count), fixed(median, 6), fixed(best, 6),
            fixed(megabytes / median, 1), fixed(Double(totals.events) / median, 0),
            fixed(Double(totals.rows) / median, 0),
        ].joined(separator: "\t"))
} else {
    print("files:      \(paths.joined(separator: " "))")
    print("input:      \(fixed(megabytes, 2)) MB, \(totals.events) events, \(totals.rowEvents) row events, \(totals.rows) rows, \(totals.values) values")
    print("CRC32:      \(verifiesChecksums ? "verified" : "not verified")")
    print("iterations: \(times.count), median \(fixed(median * 1000, 2)) ms, best \(fixed(best * 1000, 2)) ms")
    print(
        "median:     \(fixed(megabytes / median, 1)) MB/s, \(fixed(Double(totals.events) / median, 0)) events/s, "
            + "\(fixed(Double(totals.rows) / median, 0)) rows/s")
    print(
        "best:       \(fixed(megabytes / best, 1)) MB/s, \(fixed(Double(totals.events) / best, 0)) events/s, "
            + "\(fixed(Double(totals.rows) / best, 0)) rows/s")
}
