/// Triggers on the target must not fire for the rows the applier writes.
///
/// In ROW format the source logs what its triggers did as rows of their own (the audit row an
/// AFTER INSERT trigger wrote is in the binlog beside the row that fired it). A trigger on the
/// target that fired again for the applied row would write that audit row a second time: a
/// duplicate key error at best, silently doubled rows in a table without a key. MySQL's own
/// replica does not run triggers for row events; a client session cannot turn them off. So:
///
/// - every row session sets ``variable`` (`@binlog_relay_applying = 1`);
/// - a CREATE TRIGGER the applier runs (replicated DDL) gets its body wrapped in
///   `IF @binlog_relay_applying IS NULL THEN … END IF`: for the application's sessions (after a
///   failover, say) the trigger does exactly what the source's does, for the applier's it does
///   nothing;
/// - statements the source logged as text (DDL, statement-format DML, whose triggers the source
///   did not log as rows) run with the variable NULL, so their triggers fire as on the source;
/// - a target table with a trigger not so guarded (made on the target by hand, or by a dump) stops
///   the applier before any row reaches it, naming the trigger.
enum TriggerStatement {
    static let variable = "@binlog_relay_applying"
    static let guardPrefix = "IF \(variable) IS NULL THEN "

    enum Outcome: Equatable {
        /// Not a CREATE TRIGGER.
        case unchanged
        case guarded([UInt8])
        /// A CREATE TRIGGER whose body could not be found.
        case unreadable
    }

    /// Wraps the body of a CREATE TRIGGER statement in the guard.
    static func guardBody(_ query: UnsafeRawBufferPointer) -> Outcome {
        var scanner = Tokens(bytes: Array(query))
        guard scanner.next()?.word == "create" else { return .unchanged }
        // CREATE [OR REPLACE] [DEFINER = user] [SQL SECURITY …] TRIGGER: find TRIGGER before any
        // other object keyword.
        var sawTrigger = false
        while let token = scanner.next() {
            if token.word == "trigger" {
                sawTrigger = true
                break
            }
            if let word = token.word, ["table", "view", "procedure", "function", "event", "index", "database", "schema", "user", "role", "server", "sequence", "package"].contains(word) {
                return .unchanged
            }
        }
        guard sawTrigger else { return .unchanged }
        // … FOR EACH ROW [FOLLOWS|PRECEDES name] body
        var previous: [String?] = [nil, nil]
        while let token = scanner.next() {
            if token.word == "row" && previous[0] == "for" && previous[1] == "each" {
                var bodyStart = scanner.position
                let save = scanner.position
                if let order = scanner.next(), order.word == "follows" || order.word == "precedes" {
                    guard scanner.next() != nil else { return .unreadable }
                    bodyStart = scanner.position
                } else {
                    scanner.position = save
                }
                scanner.skipSpace()
                bodyStart = max(bodyStart, scanner.position)
                guard bodyStart < scanner.bytes.count else { return .unreadable }
                var bytes = Array(scanner.bytes[..<bodyStart])
                bytes += Array(guardPrefix.utf8)
                bytes += scanner.bytes[bodyStart...]
                // On a line of its own: a body may end in a `-- comment`.
                bytes += Array("\n; END IF".utf8)
                return .guarded(bytes)
            }
            previous = [previous[1], token.word]
        }
        return .unreadable
    }

    /// Whether a trigger body (information_schema.TRIGGERS.ACTION_STATEMENT) carries the guard.
    static func isGuarded(_ body: String) -> Bool { body.hasPrefix(guardPrefix) }

    /// SQL tokens: words (lower-cased), quoted identifiers and strings, single characters;
    /// white space and comments skipped (a versioned comment's text is read as text).
    struct Tokens {
        struct Token {
            /// A bare word, lower-cased; nil for anything else.
            var word: String?
        }

        var bytes: [UInt8]
        var position = 0

        mutating func skipSpace() { position = DatabaseStatement.Scanner.afterSpace(bytes, position) }

        mutating func next() -> Token? {
            skipSpace()
            guard position < bytes.count else { return nil }
            let byte = bytes[position]
            if DatabaseStatement.Scanner.isWordByte(byte) {
                let start = position
                while position < bytes.count, DatabaseStatement.Scanner.isWordByte(bytes[position]) { position += 1 }
                return Token(word: String(decoding: bytes[start..<position], as: UTF8.self).lowercased())
            }
            if byte == UInt8(ascii: "`") || byte == UInt8(ascii: "'") || byte == UInt8(ascii: "\"") {
                position =
                    DatabaseStatement.Scanner.afterQuoted(bytes, position, backslashEscapes: byte != UInt8(ascii: "`")) ?? bytes.count
                return Token(word: nil)
            }
            position += 1
            return Token(word: nil)
        }
    }
}
