// swift-tools-version: 6.1
import PackageDescription

// Decode benchmarks for binlog-relay, kept in their own package (as swift-nio does) so the
// benchmark dependencies stay out of the product. Run from this directory:
//   swift package benchmark                      (all suites, text output)
//   swift run -c release decode-throughput FILE  (MB/s, events/s, rows/s for compare.sh)
// See RESULTS.md for the figures and scripts/ for CI and the peer comparison.
let package = Package(
    name: "binlog-relay-benchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "binlog-relay", path: "../"),
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        // The measured work, shared by the package-benchmark suite and decode-throughput.
        .target(
            name: "DecodeWorkload",
            dependencies: [.product(name: "BinlogFormat", package: "binlog-relay")],
            path: "Sources/DecodeWorkload"
        ),
        .executableTarget(
            name: "DecodeBenchmarks",
            dependencies: [
                "DecodeWorkload",
                .product(name: "Benchmark", package: "benchmark"),
            ],
            path: "Benchmarks/DecodeBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        // Not under Benchmarks/: the benchmark plugin runs every executable found there.
        .executableTarget(
            name: "decode-throughput",
            dependencies: ["DecodeWorkload"],
            path: "Sources/decode-throughput"
        ),
    ],
    swiftLanguageModes: [.v6]
)
