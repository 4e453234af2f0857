/// The table a plain `CREATE TABLE name (columns…)` makes, told from its text, so that the rows
/// after it can be built before the target has run it: a run of CREATE TABLE statements and their
/// rows then goes to the target in one round trip instead of one per statement (a slow link pays
/// a round trip for each; the rows need the new table's columns and keys).
///
/// A prediction is never trusted: it comes with the check its table must pass on the target right
/// after the statement, before any row built from it runs (``TargetTable/predictionCheck``). What
/// the check compares is everything ``TargetTable/build`` reads from `information_schema`, so a
/// table that passes it binds exactly as the one read back would. Anything this reader does not
/// know (a type synonym, a generated column, a foreign key, `LIKE`, `… SELECT`) gives no prediction:
/// the statement then takes its own round trip, as before.
struct CreateTablePrediction {
    var schema: String
    var table: String
    /// `information_schema.COLUMNS` rows as ``TargetTable/query(_:escape:)`` reads them (name,
    /// data type, column type, nullable, extra), in order.
    var columnRows: [[String?]]
    /// `information_schema.STATISTICS` rows of the unique indexes (index, non-unique, column,
    /// sub-part, nullable), in the query's order.
    var keyRows: [[String?]]

    /// The table as the applier would read it back.
    var targetTable: TargetTable {
        TargetTable.build(schema: schema, table: table, columnRows: columnRows, keyRows: keyRows)
    }

    /// What ``TargetTable/predictionCheck(schema:table:expected:)`` must find.
    var fingerprint: String { TargetTable.fingerprint(columnRows: columnRows, keyRows: keyRows) }

    /// The prediction for `statement`, run with default schema `schema` (nil or empty: none) under
    /// `sqlMode` (the QUERY event's), or nil when the statement is not a CREATE TABLE this reader
    /// can tell the result of. `targetIsMariaDB`: JSON is LONGTEXT there.
    static func predict(_ statement: [UInt8], schema: String?, sqlMode: UInt64?, targetIsMariaDB: Bool) -> CreateTablePrediction? {
        // sql_mode bits (MariaDB's and MySQL's): REAL_AS_FLOAT 1, ANSI_QUOTES 4, NO_BACKSLASH_ESCAPES 1<<21.
        let mode = sqlMode ?? 0
        guard mode & 1 == 0 else { return nil }
        guard var tokens = CreateTableTokens(statement, ansiQuotes: mode & 4 != 0, backslashEscapes: mode & (1 << 21) == 0) else {
            return nil
        }
        guard tokens.keyword("create") else { return nil }
        if tokens.peekKeyword("or") || tokens.peekKeyword("temporary") { return nil }
        guard tokens.keyword("table") else { return nil }
        if tokens.keyword("if") {
            guard tokens.keyword("not"), tokens.keyword("exists") else { return nil }
        }
        guard var name = tokens.name() else { return nil }
        var tableSchema = schema
        if tokens.symbol(".") {
            tableSchema = name
            guard let second = tokens.name() else { return nil }
            name = second
        }
        guard let tableSchema, !tableSchema.isEmpty, tokens.symbol("(") else { return nil }
        guard let items = tokens.items() else { return nil }
        // Table options may follow; a query (CREATE … SELECT) or anything this reader does not
        // know to be harmless gives no prediction.
        guard tokens.tableOptionsAreHarmless() else { return nil }

        var columns: [(name: String, dataType: String, unsigned: Bool, notNull: Bool, autoIncrement: Bool)] = []
        var uniqueIndexes: [(name: String, columns: [(name: String, prefix: String?)])] = []
        for item in items {
            guard let first = item.first else { return nil }
            switch first {
            case .word(let word):
                switch word.lowercased() {
                case "primary", "unique", "constraint":
                    guard let index = Self.uniqueIndex(item) else { return nil }
                    if let unique = index { uniqueIndexes.append(unique) }
                    continue
                case "key", "index", "fulltext", "spatial", "check":
                    continue  // not unique: nothing the applier reads
                case "foreign", "period", "like", "system":
                    return nil
                default: break
                }
            default: break
            }
            guard let column = Self.column(item, targetIsMariaDB: targetIsMariaDB) else { return nil }
            columns.append((column.name, column.dataType, column.unsigned, column.notNull, column.autoIncrement))
            if column.primary { uniqueIndexes.append(("PRIMARY", [(column.name, nil)])) }
            if column.unique { uniqueIndexes.append((column.name, [(column.name, nil)])) }
        }
        guard !columns.isEmpty, uniqueIndexes.filter({ $0.name == "PRIMARY" }).count <= 1 else { return nil }
        let names = columns.map { $0.name.lowercased() }
        guard Set(names).count == names.count else { return nil }
        // Index names: unique case-insensitively (the server would refuse the statement otherwise;
        // an unnamed one would have been renamed `c_2`: not predicted).
        let indexNames = uniqueIndexes.map { $0.name.lowercased() }
        guard Set(indexNames).count == indexNames.count else { return nil }
        let primary = Set((uniqueIndexes.first { $0.name == "PRIMARY" }?.columns ?? []).map { $0.name.lowercased() })
        var columnRows: [[String?]] = []
        for column in columns {
            // A primary key's columns are NOT NULL whatever their definition says.
            let nullable = !(column.notNull || primary.contains(column.name.lowercased()))
            columnRows.append([
                column.name, column.dataType, column.unsigned ? "unsigned" : "", nullable ? "YES" : "NO",
                column.autoIncrement ? "auto_increment" : "",
            ])
        }
        // STATISTICS order: the primary key first, then by index name in the server's collation
        // (utf8_general_ci: ASCII compares as upper case; a name it sorts otherwise fails the
        // check, no harm done).
        uniqueIndexes.sort { left, right in
            if (left.name == "PRIMARY") != (right.name == "PRIMARY") { return left.name == "PRIMARY" }
            return Array(left.name.uppercased().utf8).lexicographicallyPrecedes(right.name.uppercased().utf8)
        }
        var keyRows: [[String?]] = []
        for index in uniqueIndexes {
            for part in index.columns {
                guard let position = names.firstIndex(of: part.name.lowercased()) else { return nil }
                keyRows.append([index.name, "0", columns[position].name, part.prefix, columnRows[position][3] == "YES" ? "YES" : ""])
            }
        }
        return CreateTablePrediction(schema: tableSchema, table: name, columnRows: columnRows, keyRows: keyRows)
    }

    /// A table-level `[CONSTRAINT [c]] PRIMARY KEY (…)` or `[CONSTRAINT [c]] UNIQUE [KEY|INDEX] [name] (…)`:
    /// the index (named as the server names it), `.some(nil)` for a CHECK constraint, nil for
    /// anything else (a foreign key among them).
    private static func uniqueIndex(_ item: [CreateTableTokens.Token]) -> (name: String, columns: [(name: String, prefix: String?)])?? {
        var index = 0
        var constraintName: String?
        if item[0].isWord("constraint") {
            index = 1
            if index < item.count, !item[index].isWord("primary") && !item[index].isWord("unique") && !item[index].isWord("check") {
                constraintName = item[index].identifier
                index += 1
            }
        }
        guard index < item.count else { return nil }
        if item[index].isWord("check") { return .some(nil) }
        if item[index].isWord("primary") {
            guard index + 1 < item.count, item[index + 1].isWord("key"),
                let list = indexColumns(item, after: index + 2, named: false)
            else { return nil }
            return ("PRIMARY", list.columns)
        }
        guard item[index].isWord("unique") else { return nil }
        index += 1
        if index < item.count, item[index].isWord("key") || item[index].isWord("index") { index += 1 }
        guard let list = indexColumns(item, after: index, named: true) else { return nil }
        return (list.name ?? constraintName ?? list.columns[0].name, list.columns)
    }

    /// `(a, b(10) DESC, …)` from `item[start...]`, with an index name before it when `named`
    /// allows one (and `USING BTREE|HASH` around it); nil for an expression or anything else.
    private static func indexColumns(_ item: [CreateTableTokens.Token], after start: Int, named: Bool) -> (name: String?, columns: [(name: String, prefix: String?)])? {
        var index = start
        var name: String?
        if named, index < item.count, let identifier = item[index].identifier, !item[index].isWord("using") {
            name = identifier
            index += 1
        }
        if index + 1 < item.count, item[index].isWord("using") { index += 2 }
        guard index < item.count, item[index] == .symbol(UInt8(ascii: "(")) else { return nil }
        index += 1
        var columns: [(name: String, prefix: String?)] = []
        while index < item.count {
            guard let column = item[index].identifier else { return nil }
            index += 1
            var prefix: String?
            if index + 2 < item.count, item[index] == .symbol(UInt8(ascii: "(")), case .word(let length) = item[index + 1],
                length.allSatisfy(\.isNumber), item[index + 2] == .symbol(UInt8(ascii: ")"))
            {
                prefix = length
                index += 3
            }
            if index < item.count, case .word(let order) = item[index], ["asc", "desc"].contains(order.lowercased()) { index += 1 }
            columns.append((column, prefix))
            guard index < item.count else { return nil }
            if item[index] == .symbol(UInt8(ascii: ",")) {
                index += 1
                continue
            }
            guard item[index] == .symbol(UInt8(ascii: ")")) else { return nil }
            index += 1
            break
        }
        // Index options after the list (USING, COMMENT, KEY_BLOCK_SIZE …) change no column.
        guard !columns.isEmpty else { return nil }
        for token in item[index...] {
            if case .word(let word) = token, ["invisible", "ignored", "clustering"].contains(word.lowercased()) { return nil }
        }
        return (name, columns)
    }

    /// `information_schema.COLUMNS.DATA_TYPE` for a type as written, where the two agree; nil for
    /// a type this reader does not predict.
    private static func dataType(_ written: String, targetIsMariaDB: Bool) -> String? {
        switch written {
        case "tinyint", "int1", "bool", "boolean": "tinyint"
        case "smallint", "int2": "smallint"
        case "mediumint", "int3", "middleint": "mediumint"
        case "int", "integer", "int4": "int"
        case "bigint", "int8": "bigint"
        case "decimal", "dec", "numeric", "fixed": "decimal"
        case "float", "float4": "float"
        case "double", "float8": "double"
        case "bit", "date", "time", "datetime", "timestamp", "year", "char", "varchar", "binary", "varbinary",
            "tinytext", "text", "mediumtext", "longtext", "tinyblob", "blob", "mediumblob", "longblob", "enum", "set",
            "geometry", "point", "linestring", "polygon", "multipoint", "multilinestring", "multipolygon",
            "geometrycollection":
            written
        case "json": targetIsMariaDB ? "longtext" : "json"
        case "inet4", "inet6", "uuid": targetIsMariaDB ? written : nil
        default: nil
        }
    }

    private struct Column {
        var name: String
        var dataType: String
        var unsigned = false
        var notNull = false
        var autoIncrement = false
        var primary = false
        var unique = false
        var hasDefault = false
    }

    /// A column definition: `name type[(…)] [attributes…]`.
    private static func column(_ item: [CreateTableTokens.Token], targetIsMariaDB: Bool) -> Column? {
        guard item.count >= 2, let name = item[0].identifier, case .word(let type) = item[1] else { return nil }
        var written = type.lowercased()
        var index = 2
        if written == "double", index < item.count, case .word(let next) = item[index], next.lowercased() == "precision" {
            index += 1
        }
        if written == "character" || written == "nchar" { written = "char" }
        if written == "nvarchar" { written = "varchar" }
        if written == "char" || written == "character", index < item.count, case .word(let next) = item[index],
            next.lowercased() == "varying"
        {
            written = "varchar"
            index += 1
        }
        guard let dataType = dataType(written, targetIsMariaDB: targetIsMariaDB) else { return nil }
        var column = Column(name: name, dataType: dataType)
        if index < item.count, item[index] == .symbol(UInt8(ascii: "(")) {
            // TEXT(n) and BLOB(n) become the smallest type that holds n, FLOAT(p) a DOUBLE when
            // p > 24: not predicted.
            if ["text", "blob"].contains(dataType) { return nil }
            if dataType == "float", index + 2 < item.count, item[index + 2] == .symbol(UInt8(ascii: ")")) { return nil }
            var depth = 0
            while index < item.count {
                if item[index] == .symbol(UInt8(ascii: "(")) { depth += 1 }
                if item[index] == .symbol(UInt8(ascii: ")")) { depth -= 1 }
                index += 1
                if depth == 0 { break }
            }
        }
        // Attributes: only bare words count (a DEFAULT or COMMENT literal is a literal token).
        var previous = ""
        while index < item.count {
            let token = item[index]
            index += 1
            if token == .symbol(UInt8(ascii: "(")) {
                // A DEFAULT (expr) or CHECK (expr): skipped whole.
                var depth = 1
                while index < item.count && depth > 0 {
                    if item[index] == .symbol(UInt8(ascii: "(")) { depth += 1 }
                    if item[index] == .symbol(UInt8(ascii: ")")) { depth -= 1 }
                    index += 1
                }
                previous = ""
                continue
            }
            guard case .word(let raw) = token else {
                previous = ""
                continue
            }
            let word = raw.lowercased()
            switch word {
            case "unsigned", "zerofill": column.unsigned = true
            case "null" where previous == "not": column.notNull = true
            case "auto_increment": column.autoIncrement = true
            case "default": column.hasDefault = true
            case "key" where previous == "primary": column.primary = true
            case "key" where previous == "unique": break
            case "key": column.primary = true  // a bare KEY in a column definition is PRIMARY KEY
            case "unique": column.unique = true
            case "primary": break
            // The column is computed, set by the server, hidden, or tied to another table: not predicted.
            case "as", "generated", "virtual", "persistent", "stored", "update", "invisible", "references", "serial",
                "versioning", "compressed", "byte":
                return nil
            case "binary" where previous == "set" || previous == "charset":
                // CHARACTER SET binary makes CHAR into BINARY, TEXT into BLOB.
                let binaryTypes = [
                    "char": "binary", "varchar": "varbinary", "tinytext": "tinyblob", "text": "blob", "mediumtext": "mediumblob",
                    "longtext": "longblob",
                ]
                if let binary = binaryTypes[column.dataType] { column.dataType = binary }
            default: break
            }
            previous = word
        }
        // Under explicit_defaults_for_timestamp=OFF (MariaDB before 10.10) the first such column
        // is set on every update by the server: not predicted (it would fail its check).
        if column.dataType == "timestamp" && column.notNull && !column.hasDefault { return nil }
        return column
    }
}

/// The tokens of a statement: bare words, quoted identifiers, literals (their text dropped) and
/// single symbols; comments skipped. Nil for a statement with a MariaDB-only executable comment
/// (`/*M!…*/`) or one that ends inside a literal.
struct CreateTableTokens {
    enum Token: Equatable {
        case word(String)
        case quoted(String)
        case literal
        case symbol(UInt8)

        /// The bare word `word` (given in lower case), in any case.
        func isWord(_ word: String) -> Bool {
            if case .word(let bare) = self { return bare.lowercased() == word }
            return false
        }

        /// A name as a column or index name may be written: bare or quoted.
        var identifier: String? {
            switch self {
            case .word(let word): word
            case .quoted(let name): name
            default: nil
            }
        }
    }

    private(set) var tokens: [Token] = []
    private var position = 0

    init?(_ bytes: [UInt8], ansiQuotes: Bool, backslashEscapes: Bool) {
        // MariaDB runs what `/*M!…*/` holds; the comment skipping would drop it.
        let marker = Array("/*M!".utf8)
        if bytes.count >= marker.count, (0...(bytes.count - marker.count)).contains(where: { bytes[$0..<($0 + marker.count)].elementsEqual(marker) }) {
            return nil
        }
        var index = 0
        while true {
            index = DatabaseStatement.Scanner.afterSpace(bytes, index)
            guard index < bytes.count else { break }
            let byte = bytes[index]
            if DatabaseStatement.Scanner.isWordByte(byte) {
                let start = index
                while index < bytes.count, DatabaseStatement.Scanner.isWordByte(bytes[index]) { index += 1 }
                tokens.append(.word(String(decoding: bytes[start..<index], as: UTF8.self)))
            } else if byte == UInt8(ascii: "`") || (byte == UInt8(ascii: "\"") && ansiQuotes) {
                var name: [UInt8] = []
                index += 1
                while true {
                    guard index < bytes.count else { return nil }
                    if bytes[index] == byte {
                        if index + 1 < bytes.count, bytes[index + 1] == byte {
                            name.append(byte)
                            index += 2
                            continue
                        }
                        index += 1
                        break
                    }
                    name.append(bytes[index])
                    index += 1
                }
                tokens.append(.quoted(String(decoding: name, as: UTF8.self)))
            } else if byte == UInt8(ascii: "'") || byte == UInt8(ascii: "\"") {
                guard let after = DatabaseStatement.Scanner.afterQuoted(bytes, index, backslashEscapes: backslashEscapes) else {
                    return nil
                }
                index = after
                tokens.append(.literal)
            } else {
                tokens.append(.symbol(byte))
                index += 1
            }
        }
    }

    /// Takes the next token if it is the bare word `word` (lower case).
    mutating func keyword(_ word: String) -> Bool {
        guard peekKeyword(word) else { return false }
        position += 1
        return true
    }

    func peekKeyword(_ word: String) -> Bool {
        guard position < tokens.count, case .word(let next) = tokens[position] else { return false }
        return next.lowercased() == word
    }

    var atEnd: Bool { position == tokens.count }

    mutating func symbol(_ character: Character) -> Bool {
        guard position < tokens.count, tokens[position] == .symbol(character.asciiValue!) else { return false }
        position += 1
        return true
    }

    mutating func name() -> String? {
        guard position < tokens.count, let name = tokens[position].identifier else { return nil }
        position += 1
        return name
    }

    /// The comma-separated items up to the `)` that closes the one just taken.
    mutating func items() -> [[Token]]? {
        var items: [[Token]] = []
        var current: [Token] = []
        var depth = 0
        while position < tokens.count {
            let token = tokens[position]
            position += 1
            if token == .symbol(UInt8(ascii: "(")) { depth += 1 }
            if token == .symbol(UInt8(ascii: ")")) {
                if depth == 0 {
                    items.append(current)
                    return items.allSatisfy { !$0.isEmpty } ? items : nil
                }
                depth -= 1
            }
            if token == .symbol(UInt8(ascii: ",")) && depth == 0 {
                items.append(current)
                current = []
                continue
            }
            current.append(token)
        }
        return nil
    }

    /// After the column list: table options only (ENGINE=, CHARSET, COMMENT, PARTITION BY …), no
    /// query, no system versioning (hidden columns), and no second statement.
    mutating func tableOptionsAreHarmless() -> Bool {
        while position < tokens.count {
            let token = tokens[position]
            position += 1
            switch token {
            case .word(let word):
                if ["select", "as", "like", "with", "system", "ignore", "replace"].contains(word.lowercased()) {
                    return false
                }
            case .symbol(let symbol):
                if symbol == UInt8(ascii: ";") { return false }
            default: break
            }
        }
        return true
    }
}

/// What a DDL statement other than CREATE TABLE does to the tables the applier knows, told from
/// its text, for the statements that change them in a way that needs no reading back: the rows
/// after such a statement can be built at once, and it is held with them like a predicted CREATE
/// TABLE (see ``CreateTablePrediction``), without a check (a statement that fails stops the
/// target there, before the rows).
enum SchemaEffect: Equatable {
    /// `TRUNCATE [TABLE] t`, `CREATE INDEX … ON t (…)` (not UNIQUE: the applier reads unique
    /// indexes only): every table stays as it was.
    case unchanged
    /// `DROP TABLE [IF EXISTS] t, …`: these tables are gone.
    case drops([Name])
    /// `RENAME TABLE a TO b, …`: in this order.
    case renames([(from: Name, to: Name)])

    struct Name: Hashable {
        var schema: String
        var table: String
    }

    static func == (left: SchemaEffect, right: SchemaEffect) -> Bool {
        switch (left, right) {
        case (.unchanged, .unchanged): true
        case (.drops(let a), .drops(let b)): a == b
        case (.renames(let a), .renames(let b)): a.elementsEqual(b) { $0.from == $1.from && $0.to == $1.to }
        default: false
        }
    }

    /// The effect of `statement` run with default schema `schema` (empty: none) under `sqlMode`,
    /// or nil when it is not one of the statements above in a form this reader knows.
    static func of(_ statement: [UInt8], schema: String, sqlMode: UInt64?) -> SchemaEffect? {
        let mode = sqlMode ?? 0
        guard var tokens = CreateTableTokens(statement, ansiQuotes: mode & 4 != 0, backslashEscapes: mode & (1 << 21) == 0) else {
            return nil
        }
        func name() -> Name? {
            guard let first = tokens.name() else { return nil }
            guard tokens.symbol(".") else { return schema.isEmpty ? nil : Name(schema: schema, table: first) }
            guard let second = tokens.name() else { return nil }
            return Name(schema: first, table: second)
        }
        if tokens.keyword("truncate") {
            _ = tokens.keyword("table")
            guard name() != nil, tokens.atEnd else { return nil }
            return .unchanged
        }
        if tokens.keyword("create") {
            _ = tokens.keyword("online") || tokens.keyword("offline")
            guard tokens.keyword("index") else { return nil }
            guard let index = tokens.name(), index.lowercased() != "if" else { return nil }
            if tokens.keyword("using") { _ = tokens.name() }
            guard tokens.keyword("on"), name() != nil, tokens.symbol("(") else { return nil }
            return .unchanged
        }
        if tokens.keyword("drop") {
            guard tokens.keyword("table") else { return nil }
            if tokens.keyword("if") { guard tokens.keyword("exists") else { return nil } }
            var names: [Name] = []
            repeat {
                guard let table = name() else { return nil }
                names.append(table)
            } while tokens.symbol(",")
            _ = tokens.keyword("restrict") || tokens.keyword("cascade")
            guard tokens.atEnd else { return nil }
            return .drops(names)
        }
        if tokens.keyword("rename") {
            guard tokens.keyword("table") else { return nil }
            var pairs: [(from: Name, to: Name)] = []
            repeat {
                guard let from = name(), tokens.keyword("to"), let to = name() else { return nil }
                pairs.append((from, to))
            } while tokens.symbol(",")
            guard tokens.atEnd else { return nil }
            return .renames(pairs)
        }
        return nil
    }
}
