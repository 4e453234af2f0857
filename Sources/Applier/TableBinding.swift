import BinlogFormat

/// How one source table's row events become statements on its target table: column names,
/// signedness, the key that finds a row. Built from the TABLE_MAP (its optional metadata where the
/// source logs it) and the target's own schema; refreshed when either changes.
final class TableBinding {
    /// The table map this binding was checked against (held, so identity comparisons stay valid).
    let tableMap: TableMap
    let target: TargetTable
    /// `` `schema`.`table` `` on the target (after schema renaming).
    let qualifiedName: [UInt8]
    /// Per binlog column: its quoted target name.
    let columnNames: [[UInt8]]
    /// Per binlog column: written by INSERT/UPDATE (false for generated columns).
    let writable: [Bool]
    /// Per binlog column: set by every UPDATE, changed or not (`ON UPDATE CURRENT_TIMESTAMP` on the
    /// target: left out, the target would set it to its own time).
    let alwaysSet: [Bool]
    let unsigned: [Bool]
    /// Per binlog column: the length a fixed-length binary value is padded to with 0x00 (the
    /// binlog strips them), 0 for others. See ``SQLLiteral/write(_:unsigned:padTo:into:)``.
    let padLength: [Int]
    /// Per binlog column: may appear in a WHERE that compares the whole row (not JSON or spatial:
    /// their equality is not byte equality).
    let comparable: [Bool]
    /// Binlog column indexes of the key that finds a row; empty when the table has none (then
    /// every comparable column of the before-image is compared, with LIMIT 1).
    let key: [Int]
    /// Binlog column indexes of every unique key whose columns are all logged (write sets).
    let uniqueKeys: [[Int]]
    /// Seeds a row's write-set hashes: the target table.
    let tableHash: Int

    var keyKind: TargetTable.KeyKind { key.isEmpty ? .none : target.keyKind }
    var displayName: String { "`\(target.schema)`.`\(target.name)`" }

    init(tableMap: TableMap, target: TargetTable) throws(ApplierError) {
        self.tableMap = tableMap
        self.target = target
        var name = SQLText()
        name.appendIdentifier(target.schema)
        name.append(byte: UInt8(ascii: "."))
        name.appendIdentifier(target.name)
        qualifiedName = name.bytes
        let display = "`\(target.schema)`.`\(target.name)`"

        // Binlog column → target column: by name when the source logged names, else by position.
        let named = tableMap.columns.allSatisfy { $0.name != nil }
        var mapping: [Int] = []
        if named {
            for (index, column) in tableMap.columns.enumerated() {
                let wanted = column.name!.lowercased()
                guard let position = target.columns.firstIndex(where: { $0.name.lowercased() == wanted }) else {
                    throw ApplierError(
                        .schemaMismatch,
                        "table \(display): the source's column \(index + 1) `\(column.name!)` is not on the target")
                }
                mapping.append(position)
            }
        } else {
            guard tableMap.columns.count == target.columns.count else {
                let extra =
                    tableMap.columns.count < target.columns.count
                    ? "the target's column \(tableMap.columns.count + 1) `\(target.columns[tableMap.columns.count].name)` has no source column"
                    : "the source's column \(target.columns.count + 1) has no target column"
                throw ApplierError(
                    .schemaMismatch,
                    "table \(display): the source has \(tableMap.columns.count) columns, the target \(target.columns.count) (\(extra))")
            }
            mapping = Array(target.columns.indices)
        }
        for (index, column) in tableMap.columns.enumerated() {
            let targetColumn = target.columns[mapping[index]]
            guard Self.compatible(column, targetColumn.dataType) else {
                throw ApplierError(
                    .schemaMismatch,
                    "table \(display): column \(index + 1) `\(targetColumn.name)` is \(Self.family(column)) on the source but \(targetColumn.dataType) on the target")
            }
        }
        columnNames = mapping.map { SQLText.identifier(target.columns[$0].name) }
        writable = mapping.map { !target.columns[$0].isGenerated }
        alwaysSet = mapping.map { target.columns[$0].updatesItself }
        unsigned = tableMap.columns.enumerated().map { index, column in
            column.isUnsigned ?? target.columns[mapping[index]].isUnsigned
        }
        padLength = tableMap.columns.enumerated().map { index, column in
            guard column.valueType == .string else { return 0 }
            return Self.fixedBinaryTypes.contains(target.columns[mapping[index]].dataType) ? column.length : 0
        }
        comparable = tableMap.columns.map { column in
            switch column.valueType {
            case .json, .geometry: false
            default: true
            }
        }
        // The target's key, in binlog column indexes (all of its columns must be logged).
        let keyColumns = target.key.compactMap { targetIndex in mapping.firstIndex(of: targetIndex) }
        key = keyColumns.count == target.key.count ? keyColumns : []
        uniqueKeys = target.uniqueKeys.compactMap { columns in
            let mapped = columns.compactMap { targetIndex in mapping.firstIndex(of: targetIndex) }
            return mapped.count == columns.count && !mapped.isEmpty ? mapped : nil
        }
        var hasher = Hasher()
        hasher.combine(qualifiedName)
        tableHash = hasher.finalize()
    }

    /// Target types whose values are fixed-length bytes padded with 0x00.
    static let fixedBinaryTypes: Set<String> = ["binary", "inet4", "inet6", "uuid"]

    /// Whether a target column of `dataType` holds the source column's values unchanged.
    static func compatible(_ column: TableMap.Column, _ dataType: String) -> Bool {
        let accepted: Set<String>
        switch family(column) {
        case "integer": accepted = ["tinyint", "smallint", "mediumint", "int", "integer", "bigint"]
        case "decimal": accepted = ["decimal", "numeric"]
        case "floating point": accepted = ["float", "double", "real"]
        case "date": accepted = ["date"]
        case "time": accepted = ["time"]
        case "datetime": accepted = ["datetime"]
        case "timestamp": accepted = ["timestamp"]
        case "year": accepted = ["year"]
        case "bit": accepted = ["bit"]
        case "enum": accepted = ["enum"]
        case "set": accepted = ["set"]
        case "json": accepted = ["json", "longtext"]  // MariaDB's JSON is LONGTEXT with a check
        case "spatial":
            accepted = [
                "geometry", "point", "linestring", "polygon", "multipoint", "multilinestring", "multipolygon",
                "geometrycollection", "geomcollection",
            ]
        case "vector": accepted = ["vector"]
        case "string", "blob":
            accepted = [
                "char", "varchar", "binary", "varbinary", "tinytext", "text", "mediumtext", "longtext", "tinyblob",
                "blob", "mediumblob", "longblob", "json", "inet4", "inet6", "uuid",
            ]
        default: return true
        }
        return accepted.contains(dataType)
    }

    /// The source column's type family, in words.
    static func family(_ column: TableMap.Column) -> String {
        switch column.valueType {
        case .tiny, .short, .int24, .long, .longlong: "integer"
        case .newdecimal, .decimal: "decimal"
        case .float, .double: "floating point"
        case .date, .newdate: "date"
        case .time, .time2: "time"
        case .datetime, .datetime2: "datetime"
        case .timestamp, .timestamp2: "timestamp"
        case .year: "year"
        case .bit: "bit"
        case .enum: "enum"
        case .set: "set"
        case .json: "json"
        case .geometry: "spatial"
        case .vector: "vector"
        case .varchar, .varString, .string: "string"
        case .blob, .tinyBlob, .mediumBlob, .longBlob: "blob"
        default: "type \(column.type.rawValue)"
        }
    }
}
