import Foundation

/// Where the repository and its committed fixtures are, from this file's location.
public enum Repository {
    public static let root: URL = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url
    }()

    public static let fixtures = root.appendingPathComponent("Fixtures")

    /// A committed fixture by its path below `Fixtures/`.
    public static func fixture(_ name: String) -> URL { fixtures.appendingPathComponent(name) }
}

/// A small deterministic generator (SplitMix64), so randomised tests reproduce.
public struct SplitMix64: RandomNumberGenerator {
    var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
