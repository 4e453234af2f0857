/// CREATE/ALTER/DROP DATABASE (or SCHEMA) statements under a schema rename.
///
/// The source logs such a statement with the database it names as its default schema, so the
/// filter and `--rewrite-schema` see the right name; but the statement's text still names the
/// source database. Run as it is under `app=copy`, `CREATE DATABASE app` would make a stray `app`
/// on the target and `DROP DATABASE app` would drop the target's own `app`. The name in the text is
/// replaced by the target name instead.
enum DatabaseStatement {
    enum Outcome: Equatable {
        /// Not a database statement, or one that does not name `from` (runs unchanged).
        case unchanged
        /// The statement with the database renamed.
        case rewritten([UInt8])
        /// A database statement whose name could not be found: refuse rather than guess.
        case unreadable
    }

    /// Whether the statement is a CREATE [OR REPLACE] DATABASE|SCHEMA.
    static func createsDatabase(_ query: UnsafeRawBufferPointer) -> Bool {
        var scanner = Scanner(bytes: Array(query.prefix(256)))
        guard scanner.word()?.lowercased() == "create" else { return false }
        var next = scanner.word()?.lowercased()
        if next == "or" {
            guard scanner.word()?.lowercased() == "replace" else { return false }
            next = scanner.word()?.lowercased()
        }
        return next == "database" || next == "schema"
    }

    /// Renames database `from` to `to` in a CREATE/ALTER/DROP DATABASE|SCHEMA statement.
    static func rewrite(_ query: UnsafeRawBufferPointer, from: String, to: String) -> Outcome {
        var scanner = Scanner(bytes: Array(query))
        guard let verb = scanner.word()?.lowercased(), ["create", "alter", "drop"].contains(verb) else { return .unchanged }
        var next = scanner.word()?.lowercased()
        if verb == "create" && next == "or" {
            guard scanner.word()?.lowercased() == "replace" else { return .unchanged }
            next = scanner.word()?.lowercased()
        }
        guard next == "database" || next == "schema" else { return .unchanged }
        let beforeIf = scanner.position
        if scanner.word()?.lowercased() == "if" {
            if verb == "create" { guard scanner.word()?.lowercased() == "not" else { return .unreadable } }
            guard scanner.word()?.lowercased() == "exists" else { return .unreadable }
        } else {
            scanner.position = beforeIf
        }
        guard let (name, range) = scanner.identifier() else {
            // ALTER DATABASE without a name changes the default schema: the renamed one already.
            return verb == "alter" ? .unchanged : .unreadable
        }
        guard name == from else {
            // ALTER DATABASE DEFAULT CHARACTER SET …: a keyword, not a name.
            let keywords: Set<String> = ["default", "character", "charset", "collate", "comment", "upgrade"]
            if verb == "alter" && !scanner.lastWasQuoted && keywords.contains(name.lowercased()) { return .unchanged }
            return .unreadable
        }
        var bytes = scanner.bytes
        bytes.replaceSubrange(range, with: SQLText.identifier(to))
        return .rewritten(bytes)
    }

    /// Words and identifiers of a statement, skipping white space and comments; a versioned comment
    /// (`/*!40100 … */`) is read as the text it holds, as the server runs it.
    struct Scanner {
        var bytes: [UInt8]
        var position = 0
        var lastWasQuoted = false

        mutating func skipSpace() { position = Self.afterSpace(bytes, position) }

        /// The first position at or after `start` that is not white space or a comment.
        static func afterSpace(_ bytes: [UInt8], _ start: Int) -> Int {
            var position = start
            while position < bytes.count {
                let byte = bytes[position]
                if byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D {
                    position += 1
                } else if byte == UInt8(ascii: "/"), position + 1 < bytes.count, bytes[position + 1] == UInt8(ascii: "*") {
                    if position + 2 < bytes.count, bytes[position + 2] == UInt8(ascii: "!") {
                        position += 3
                        while position < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[position]) { position += 1 }
                    } else {
                        position += 2
                        while position + 1 < bytes.count, !(bytes[position] == UInt8(ascii: "*") && bytes[position + 1] == UInt8(ascii: "/")) {
                            position += 1
                        }
                        position = min(bytes.count, position + 2)
                    }
                } else if byte == UInt8(ascii: "*"), position + 1 < bytes.count, bytes[position + 1] == UInt8(ascii: "/") {
                    position += 2  // the end of a versioned comment
                } else if byte == UInt8(ascii: "#")
                    || (byte == UInt8(ascii: "-") && position + 2 < bytes.count && bytes[position + 1] == UInt8(ascii: "-")
                        && [0x20, 0x09, 0x0A].contains(bytes[position + 2]))
                {
                    while position < bytes.count, bytes[position] != 0x0A { position += 1 }
                } else {
                    return position
                }
            }
            return position
        }

        /// The position just past the quoted text that starts at `start` (its opening `quote`):
        /// a doubled quote stands for itself, and with `backslashEscapes` a backslash escapes the
        /// byte after it. Nil when the text does not end.
        static func afterQuoted(_ bytes: [UInt8], _ start: Int, backslashEscapes: Bool) -> Int? {
            let quote = bytes[start]
            var position = start + 1
            while position < bytes.count {
                if backslashEscapes && bytes[position] == UInt8(ascii: "\\") {
                    position += 2
                    continue
                }
                if bytes[position] == quote {
                    if position + 1 < bytes.count, bytes[position + 1] == quote {
                        position += 2
                        continue
                    }
                    return position + 1
                }
                position += 1
            }
            return nil
        }

        static func isWordByte(_ byte: UInt8) -> Bool {
            byte >= 0x80 || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "$")
                || (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte | 0x20) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
        }

        /// The next bare word, or nil.
        mutating func word() -> String? {
            skipSpace()
            let start = position
            while position < bytes.count, Self.isWordByte(bytes[position]) { position += 1 }
            return position > start ? String(decoding: bytes[start..<position], as: UTF8.self) : nil
        }

        /// The next identifier, bare or in backquotes, with the bytes it spans.
        mutating func identifier() -> (String, Range<Int>)? {
            skipSpace()
            let start = position
            guard position < bytes.count else { return nil }
            if bytes[position] == UInt8(ascii: "`") {
                var name: [UInt8] = []
                position += 1
                while position < bytes.count {
                    if bytes[position] == UInt8(ascii: "`") {
                        if position + 1 < bytes.count, bytes[position + 1] == UInt8(ascii: "`") {
                            name.append(bytes[position])
                            position += 2
                            continue
                        }
                        position += 1
                        lastWasQuoted = true
                        return (String(decoding: name, as: UTF8.self), start..<position)
                    }
                    name.append(bytes[position])
                    position += 1
                }
                return nil
            }
            lastWasQuoted = false
            guard let name = word() else { return nil }
            return (name, start..<position)
        }
    }
}
