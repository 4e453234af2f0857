// swift-tools-version: 6.1
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "binlog-relay",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "binlog-relay", targets: ["BinlogRelay"]),
        .library(name: "BinlogFormat", targets: ["BinlogFormat"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-system", from: "1.8.1"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-configuration", from: "1.4.0", traits: [.defaults, "YAML"]),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
    ],
    targets: [
        // C boundary: Debian's MariaDB Connector/C (libmariadb-dev).
        .systemLibrary(
            name: "CMySQLClient",
            pkgConfig: "libmariadb",
            providers: [.apt(["libmariadb-dev"])]
        ),
        // zlib: MariaDB's compressed events, and CRC32 where the shim's carry-less multiply
        // (x86-64 PCLMULQDQ, crc32_pclmul.h) is not available.
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        // zstd: MySQL 8 TRANSACTION_PAYLOAD events, decompressed as a stream.
        .systemLibrary(name: "CZstd", pkgConfig: "libzstd", providers: [.apt(["libzstd-dev"])]),

        // Pure decoding of the binlog format: no I/O.
        .target(
            name: "BinlogFormat",
            dependencies: ["CZlib", "CZstd"],
            swiftSettings: swiftSettings
        ),
        // The only module that touches the client library's C API.
        .target(
            name: "MySQLClient",
            dependencies: ["CMySQLClient", "BinlogFormat"],
            swiftSettings: swiftSettings
        ),
        // The durable local log: segments in binlog format, fsync group commit, recovery, retention.
        .target(
            name: "RelayLog",
            dependencies: ["BinlogFormat", .product(name: "SystemPackage", package: "swift-system")],
            swiftSettings: swiftSettings
        ),
        // Transactions from the local log to the target: statements, batching, checkpoints, DDL,
        // filters, loop prevention.
        .target(
            name: "Applier",
            dependencies: [
                "BinlogFormat", "MySQLClient", "RelayLog",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "SystemPackage", package: "swift-system"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "BinlogRelay",
            dependencies: [
                "Applier",
                "BinlogFormat",
                "MySQLClient",
                "RelayLog",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "SystemPackage", package: "swift-system"),
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "BinlogFormatTests",
            dependencies: ["BinlogFormat", "CZlib", "TestSupport"],
            swiftSettings: swiftSettings
        ),
        // Test support: throwaway MariaDB servers for the integration tests.
        .target(
            name: "TestSupport",
            dependencies: ["MySQLClient"],
            path: "Tests/TestSupport",
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ApplierTests",
            dependencies: ["Applier", "BinlogFormat"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "MySQLClientTests",
            dependencies: ["MySQLClient", "BinlogFormat", "TestSupport"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "RelayLogTests",
            dependencies: ["RelayLog", "BinlogFormat", "TestSupport", .product(name: "SystemPackage", package: "swift-system")],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "BinlogRelayTests",
            dependencies: [
                "BinlogRelay", "Applier", "BinlogFormat", "MySQLClient", "RelayLog", "TestSupport",
                .product(name: "SystemPackage", package: "swift-system"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
    ],
    swiftLanguageModes: [.v6]
)
