import Testing

@testable import Applier
@testable import MySQLClient

/// What the applier learns of foreign keys from `information_schema` rows: the rules for multi-row
/// statements (UpdateChunk) and parallel apply depend on it.
@Suite("Target schema: foreign keys")
struct TargetSchemaTests {
    /// The four result sets of `TargetTable.query` for schema `shop`: tables `orders`, `items`
    /// (references `orders`), `tree` (references itself), `lone`, and `customers`, which
    /// references `crm`.`accounts` in another schema.
    static func results() -> [MySQLResult] {
        let columns = ["orders", "items", "tree", "lone", "customers"].map { table in
            [table, "id", "int", "int(11)", "NO", ""] as [String?]
        }
        let keys = ["orders", "items", "tree", "lone", "customers"].map { table in
            [table, "PRIMARY", "0", "id", nil, ""] as [String?]
        }
        let references: [[String?]] = [
            ["shop", "items", "shop", "orders"],
            ["shop", "tree", "shop", "tree"],
            ["shop", "customers", "crm", "accounts"],
        ]
        return [
            MySQLResult(columns: [], rows: columns), MySQLResult(columns: [], rows: keys),
            MySQLResult(columns: [], rows: []), MySQLResult(columns: [], rows: references),
        ]
    }

    @Test("a table with foreign keys, referenced, referencing itself, or referenced from another schema")
    func foreignKeys() {
        let tables = TargetTable.parse(Self.results(), schema: "shop", referencedElsewhere: [TargetTable.qualifiedKey("shop", "lone")])
        #expect(tables["orders"]?.hasForeignKeys == true, "referenced by items")
        #expect(tables["items"]?.hasForeignKeys == true)
        #expect(tables["customers"]?.hasForeignKeys == true)
        #expect(tables["lone"]?.hasForeignKeys == true, "referenced from another schema (read once a session)")
        #expect(tables["tree"]?.referencesItself == true)
        #expect(tables.values.filter { $0.referencesItself }.map(\.name) == ["tree"])
        let alone = TargetTable.parse(Self.results(), schema: "shop")
        #expect(alone["lone"]?.hasForeignKeys == false)
    }

    @Test("a schema's own foreign keys name the tables of other schemas they reference")
    func crossSchema() {
        #expect(TargetTable.crossSchemaReferences(Self.results(), schema: "shop") == [TargetTable.qualifiedKey("crm", "accounts")])
        #expect(TargetTable.crossSchemaReferences([], schema: "shop").isEmpty)
        let read = MySQLResult(columns: [], rows: [["crm", "accounts"], ["shop", "lone"], [nil, "x"]])
        #expect(TargetTable.referencedElsewhere(read) == [TargetTable.qualifiedKey("crm", "accounts"), TargetTable.qualifiedKey("shop", "lone")])
    }
}
