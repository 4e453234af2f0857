import Foundation
import MySQLClient
import TestSupport
import Testing

/// Parallel apply decides which groups may overlap by hashing the bytes of each unique key value,
/// while the target compares strings under their collation: 'User1@Example.com' and
/// 'user1@example.com' are one key to a case-insensitive unique index. Two such groups may run
/// side by side and the later one meet the row the earlier one is about to change.
@Suite("Parallel apply and keys equal under a collation", .serialized)
struct ApplierParallelCollationTests {
    static func workload(pairs: Int) -> String {
        var sql = """
            SET NAMES utf8mb4;
            CREATE DATABASE par;
            USE par;
            CREATE TABLE users (id INT PRIMARY KEY, email VARCHAR(100) COLLATE utf8mb4_general_ci NOT NULL, UNIQUE KEY email (email));
            CREATE TABLE side (id INT PRIMARY KEY, pad VARCHAR(200));
            INSERT INTO users SELECT seq, CONCAT('User', seq, '@Example.com') FROM seq_1_to_\(pairs);

            """
        for n in 1...pairs {
            // A slow transaction that renames user n's address last, then one that takes that
            // address in lower case: the second must wait for the first.
            sql += """
                BEGIN;
                INSERT INTO side SELECT seq + \(n * 100_000), REPEAT('x', 200) FROM seq_1_to_3000;
                UPDATE users SET email = CONCAT('old', id, '@example.com') WHERE id = \(n);
                COMMIT;
                INSERT INTO users VALUES (\(1000 + n), 'user\(n)@example.com');

                """
        }
        return sql
    }

    @Test("a later group that takes a key an earlier one frees, equal only under the collation: the copy ends exact, nothing reported as divergence")
    func caseInsensitiveKeys() throws {
        let pair = try ApplyPair()
        defer { pair.stop() }
        try pair.sourceSQL(Self.workload(pairs: 12))
        try pair.fillLog()
        // One source transaction a group, so that the two of each pair go to different workers.
        let result = try pair.apply(extra: ["--workers", "4", "--batch-transactions", "1"])
        #expect(result.code == 0, "\(result.output)")
        let problems = try pair.differences(["par"])
        #expect(problems.isEmpty, "\(problems.summary)")
        let target = try pair.target.connect()
        defer { target.close() }
        #expect(try target.query("SELECT COUNT(*) FROM par.users WHERE email LIKE 'user%'").scalar == "12")
    }
}
