import BinlogFormat
import CMySQLClient

/// Prepared statements executed in bulk: MariaDB's COM_STMT_BULK_EXECUTE runs one prepared
/// statement for many rows of parameters sent in the binary protocol, so the server neither
/// parses nor unescapes the values (Benchmarks/RESULTS.md, "INSERT: text against bulk binary").
/// The packet is the caller's (statement id, flags, parameter types, rows: MariaDB's
/// documentation of COM_STMT_BULK_EXECUTE); this layer sends it, and the statement's
/// COM_STMT_PREPARE, and reads their answers, in order with the queries ``sendBatch(_:)`` sends
/// around them: a statement is prepared and executed without waiting for a round trip.
extension MySQLConnection {
    /// Whether the server runs bulk executions (MariaDB 10.2 and later).
    public var supportsBulkExecution: Bool { binlog_relay_supports_bulk(handle) != 0 }

    /// The id that names the statement prepared last on the connection (MariaDB 10.2 and later):
    /// a bulk execution sent right behind its COM_STMT_PREPARE, before the answer gives the id.
    /// After a failed prepare it names none, and the execution fails.
    public static let lastPreparedStatement: UInt32 = 0xFFFF_FFFF

    /// Sends COM_STMT_PREPARE for `sql` (one statement with `?` placeholders) without waiting;
    /// ``readPrepare()`` reads the answer in its turn.
    public func sendPrepare(_ sql: UnsafeRawBufferPointer) -> MySQLError? {
        let sent = binlog_relay_send_command(handle, 0x16, sql.baseAddress?.assumingMemoryBound(to: UInt8.self), sql.count, 1)
        return sent != 0 ? lastError(operation: "prepare") : nil
    }

    /// Reads the answer to a COM_STMT_PREPARE: the statement's id, or the server's error. The
    /// answer is an OK packet (id, column and parameter counts), then a definition packet per
    /// parameter and per column, each list ended by an EOF packet unless the session has
    /// CLIENT_DEPRECATE_EOF (MariaDB's documentation of COM_STMT_PREPARE).
    public func readPrepare() -> Result<UInt32, MySQLError> {
        let id: UInt32
        let definitions: [Int]
        do {
            let packet = try readPacket(operation: "prepare")
            var reader = ByteReader(packet)
            guard (try? reader.readUInt8()) == 0x00, let statement = try? reader.readUInt32(), let columns = try? reader.readUInt16(),
                let parameters = try? reader.readUInt16()
            else {
                return .failure(MySQLError(.protocolViolation, message: "the answer to a prepare is not an OK packet", operation: "prepare"))
            }
            id = statement
            definitions = [Int(parameters), Int(columns)]
        } catch {
            return .failure(error)
        }
        let endsWithEOF = handle.pointee.client_flag & (1 << 24) == 0  // CLIENT_DEPRECATE_EOF
        do {
            for count in definitions where count > 0 {
                for _ in 0..<(count + (endsWithEOF ? 1 : 0)) { _ = try readPacket(operation: "prepare") }
            }
        } catch {
            return .failure(error)
        }
        return .success(id)
    }

    /// Sends COM_STMT_CLOSE for statement `id` (the server answers nothing).
    public func closeStatement(_ id: UInt32) {
        var argument = id.littleEndian
        _ = withUnsafeBytes(of: &argument) { bytes in
            binlog_relay_send_command(handle, 0x19, bytes.baseAddress?.assumingMemoryBound(to: UInt8.self), 4, 1)
        }
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
        var reader = ByteReader(packet)
        guard (try? reader.readUInt8()) == 0x00, let rows = try? reader.readLengthEncoded() else {
            return .failure(MySQLError(.protocolViolation, message: "the answer to a bulk execution is not an OK packet", operation: "apply"))
        }
        return .success(rows)
    }
}
