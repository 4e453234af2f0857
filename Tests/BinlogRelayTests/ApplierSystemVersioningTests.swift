import Foundation
import MySQLClient
import TestSupport
import Testing

/// MariaDB's system-versioned tables cannot be applied as statements (docs/applier.md, "DDL and
/// other statements"): the applier must stop on one with a message that says so and how to go on,
/// never write it approximately (with an explicit PERIOD the target would stamp its own row_start).
@Suite("Apply: system-versioned tables", .serialized)
struct ApplierSystemVersioningTests {
    static let source = [
        "CREATE DATABASE sv", "USE sv",
        "CREATE TABLE plain (id INT PRIMARY KEY, v INT)",
        "CREATE TABLE hist (id INT PRIMARY KEY, v VARCHAR(10)) WITH SYSTEM VERSIONING",
        "CREATE TABLE period (id INT PRIMARY KEY, v INT, rs TIMESTAMP(6) GENERATED ALWAYS AS ROW START, "
            + "re TIMESTAMP(6) GENERATED ALWAYS AS ROW END, PERIOD FOR SYSTEM_TIME(rs, re)) WITH SYSTEM VERSIONING",
        "INSERT INTO plain VALUES (1, 1), (2, 2)",
        "INSERT INTO period (id, v) VALUES (1, 1)",
        "INSERT INTO hist VALUES (1, 'a'), (2, 'b')",
        "UPDATE hist SET v = 'c' WHERE id = 1",
        "INSERT INTO plain VALUES (3, 3)",
    ]

    @Test("a system-versioned table stops the apply, named, with the way on; excluded, the rest is exact")
    func refusedThenExcluded() throws {
        let pair = try ApplyPair()
        defer { pair.stop() }
        try pair.source.execute(Self.source)
        try pair.fillLog()

        // The table with an explicit PERIOD alone: its row would bind (row_start and row_end look
        // like generated columns) and take the target's own time.
        let period = try pair.apply(extra: ["--exclude", "sv.hist"])
        #expect(period.code != 0, "\(period.output)")
        #expect(period.output.contains("table `sv`.`period` is system-versioned on the target (WITH SYSTEM VERSIONING)"), "\(period.output)")
        #expect(period.output.contains("--exclude 'sv.period'"), "\(period.output)")
        let target = try pair.target.connect()
        defer { target.close() }
        #expect(try target.query("SELECT COUNT(*) FROM sv.period").scalar == "0")

        let hist = try pair.apply(extra: ["--exclude", "sv.period"])
        #expect(hist.code != 0, "\(hist.output)")
        #expect(hist.output.contains("table `sv`.`hist` is system-versioned on the target"), "\(hist.output)")
        #expect(hist.output.contains("--exclude 'sv.hist'"), "\(hist.output)")

        let run = try pair.apply(extra: ["--exclude", "sv.period", "--exclude", "sv.hist"])
        #expect(run.code == 0, "\(run.output)")
        let problems = try pair.differences([("sv", "sv")], tables: ["plain"])
        #expect(problems.isEmpty, "\(problems.summary)")
        #expect(try target.query("SELECT COUNT(*) FROM sv.plain").scalar == "3")
    }
}
