import CMySQLClient

/// Prepared statements executed in bulk: MariaDB's COM_STMT_BULK_EXECUTE runs one prepared
/// statement for many rows of parameters sent in the binary protocol, so the server neither
/// parses nor unescapes the values (Benchmarks/RESULTS.md, "INSERT: text against bulk binary").
/// The packet is the caller's (statement id, flags, parameter types, rows: MariaDB's
/// documentation of COM_STMT_BULK_EXECUTE); this layer sends it and reads its answer, in order
/// with the queries ``sendBatch(_:)`` sends around it.
extension MySQLConnection {
    /// Whether the server runs bulk executions (MariaDB 10.2 and later).
    public var supportsBulkExecution: Bool { binlog_relay_supports_bulk(handle) != 0 }

    /// Prepares `sql` (one statement with `?` placeholders) and returns the server's id for it,
    /// valid while the connection lasts. One round trip; nothing may be in flight.
    public func prepare(_ sql: [UInt8]) throws(MySQLError) -> UInt32 {
        guard let statement = mysql_stmt_init(handle) else {
            throw MySQLError(.query, message: "out of memory", operation: "prepare")
        }
        roundTrips += 1
        let failed = sql.withUnsafeBytes { buffer in
            mysql_stmt_prepare(statement, buffer.baseAddress?.assumingMemoryBound(to: CChar.self), UInt(buffer.count))
        }
        if failed != 0 {
            let error = Self.classified(
                number: mysql_stmt_errno(statement), message: String(cString: mysql_stmt_error(statement)),
                sqlState: String(cString: mysql_stmt_sqlstate(statement)), operation: "prepare")
            mysql_stmt_close(statement)
            throw error
        }
        preparedStatements.append(statement)
        return UInt32(truncatingIfNeeded: binlog_relay_statement_id(statement))
    }

    /// Sends COM_STMT_BULK_EXECUTE with `body` (everything after the command byte) without
    /// waiting for the answer, which ``readBulk()`` reads once the answers of everything sent
    /// before it are read. Not counted as a round trip: it travels behind a query.
    public func sendBulk(_ body: UnsafeRawBufferPointer) -> MySQLError? {
        let sent = binlog_relay_send_command(handle, 0xFA, body.baseAddress?.assumingMemoryBound(to: UInt8.self), body.count, 1)
        return sent != 0 ? lastError(operation: "apply") : nil
    }

    /// Reads the answer to a bulk execution: the rows it affected (matched, with
    /// ``MySQLConnectionConfiguration/foundRows``), or the server's error.
    public func readBulk() -> Result<UInt64, MySQLError> {
        let packet: UnsafeRawBufferPointer
        do {
            packet = try readPacket(operation: "apply")
        } catch {
            return .failure(error)
        }
        // An OK packet: 0x00, then the affected rows as a length-encoded integer.
        guard packet.count >= 2, packet[0] == 0x00, let rows = Self.lengthEncoded(packet, at: 1) else {
            return .failure(MySQLError(.protocolViolation, message: "the answer to a bulk execution is not an OK packet", operation: "apply"))
        }
        return .success(rows)
    }

    /// A length-encoded integer of the protocol (1, 3, 4 or 9 bytes), or nil if cut short.
    static func lengthEncoded(_ bytes: UnsafeRawBufferPointer, at offset: Int) -> UInt64? {
        guard offset < bytes.count else { return nil }
        let first = bytes[offset]
        let width: Int
        switch first {
        case ..<0xFB: return UInt64(first)
        case 0xFC: width = 2
        case 0xFD: width = 3
        case 0xFE: width = 8
        default: return nil
        }
        guard offset + width < bytes.count else { return nil }
        var value: UInt64 = 0
        for index in 0..<width { value |= UInt64(bytes[offset + 1 + index]) << (8 * index) }
        return value
    }
}
