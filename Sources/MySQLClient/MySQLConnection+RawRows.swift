import CMySQLClient

/// A result column as the server describes it: enough to write each value back exactly.
public struct MySQLField: Sendable, Equatable {
    public var name: String
    /// `enum_field_types` (MYSQL_TYPE_…): 246 NEWDECIMAL, 16 BIT, 245 JSON, 252 BLOB, …
    public var type: UInt32
    /// Column flags (`UNSIGNED_FLAG` 32, `BINARY_FLAG` 128, …).
    public var flags: UInt32
    /// Character set number of the value's bytes; 63 is binary.
    public var characterSet: UInt32

    public init(name: String, type: UInt32, flags: UInt32, characterSet: UInt32) {
        self.name = name
        self.type = type
        self.flags = flags
        self.characterSet = characterSet
    }

    public static let unsignedFlag: UInt32 = 32
}

/// One row of a streamed result: each value's bytes as the server sent them (text protocol), nil
/// for NULL. Valid only inside the closure that receives it.
public struct MySQLRawRow {
    let values: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>
    let lengths: UnsafeMutablePointer<UInt>
    public let count: Int

    init(values: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>, lengths: UnsafeMutablePointer<UInt>, count: Int) {
        self.values = values
        self.lengths = lengths
        self.count = count
    }

    /// The value's bytes, or nil for NULL; do not keep the buffer past the row.
    public subscript(index: Int) -> UnsafeRawBufferPointer? {
        guard let value = values[index] else { return nil }
        return UnsafeRawBufferPointer(start: value, count: Int(lengths[index]))
    }
}

extension MySQLConnection {
    /// Runs a query and hands its rows to `row` one at a time as they arrive (`mysql_use_result`:
    /// the result is never held whole), after giving `fields` the columns. With
    /// `character_set_results` NULL (binary) the bytes are the column's own. Returns the row count.
    @discardableResult
    public func streamRows(
        _ sql: String, fields: ([MySQLField]) throws -> Void, row: (MySQLRawRow) throws -> Void
    ) throws -> Int {
        if mysql_real_query(handle, sql, UInt(sql.utf8.count)) != 0 { throw lastError(operation: "query") }
        guard let result = mysql_use_result(handle) else {
            if mysql_field_count(handle) == 0 { return 0 }
            throw lastError(operation: "query")
        }
        defer { mysql_free_result(result) }
        let count = Int(mysql_num_fields(result))
        var described: [MySQLField] = []
        if let list = mysql_fetch_fields(result) {
            for index in 0..<count {
                let field = list[index]
                described.append(
                    MySQLField(
                        name: String(cString: field.name), type: field.type.rawValue, flags: field.flags,
                        characterSet: field.charsetnr))
            }
        }
        do {
            try fields(described)
        } catch {
            while mysql_fetch_row(result) != nil {}
            throw error
        }
        var rows = 0
        while let values = mysql_fetch_row(result) {
            guard let lengths = mysql_fetch_lengths(result) else { break }
            rows += 1
            do {
                try row(MySQLRawRow(values: values, lengths: lengths, count: count))
            } catch {
                while mysql_fetch_row(result) != nil {}
                throw error
            }
        }
        // A row read that stopped on an error (connection lost mid-result) is not an end.
        if mysql_errno(handle) != 0 { throw lastError(operation: "read rows") }
        return rows
    }
}
