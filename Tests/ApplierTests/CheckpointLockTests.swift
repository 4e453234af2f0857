import Testing

@testable import Applier

@Suite("The channel's lock name")
struct CheckpointLockTests {
    @Test("names the schema and channel; a long one is hashed to at most 64 bytes, the same in every process")
    func lockName() {
        #expect(CheckpointTable(schema: "binlog_relay", channel: "default").lockName == "binlog_relay/binlog_relay/default")
        let long = CheckpointTable(schema: "binlog_relay", channel: String(repeating: "channel-ü-", count: 10)).lockName
        #expect(long.utf8.count <= 64)
        // FNV-1a of the full name (a fixed function, not Swift's per-process seeded Hasher), as
        // Python computes it: `h ^= byte; h = h * 0x100000001b3 mod 2^64` from 0xcbf29ce484222325.
        #expect(long == "binlog_relay/6dc82a1440f394f9")
        #expect(long != CheckpointTable(schema: "binlog_relay", channel: String(repeating: "channel-ü-", count: 11)).lockName)
        #expect(CheckpointTable(schema: "a", channel: "b").lockName != CheckpointTable(schema: "a", channel: "c").lockName)
    }
}
