import CMySQLClient

/// One connection through Debian's MariaDB Connector/C: the library does authentication, TLS
/// and compression; this wrapper owns the `MYSQL*` handle and closes it in `deinit`.
///
/// Not thread-safe: use a connection from one task at a time. Calls block; run them off the
/// cooperative thread pool.
public final class MySQLConnection {
    let handle: UnsafeMutablePointer<MYSQL>
    public let configuration: MySQLConnectionConfiguration
    private var closed = false

    /// Connects, or throws a ``MySQLError`` naming the endpoint (never the password).
    public init(configuration: MySQLConnectionConfiguration) throws(MySQLError) {
        self.configuration = configuration
        guard let handle = mysql_init(nil) else {
            throw MySQLError(.connection, message: "out of memory", operation: "connect")
        }
        self.handle = handle
        do throws(MySQLError) {
            try applyOptions()
            var flags: UInt = 0
            if configuration.multiStatements { flags |= UInt(CLIENT_MULTI_STATEMENTS) | UInt(CLIENT_MULTI_RESULTS) }
            if configuration.foundRows { flags |= UInt(CLIENT_FOUND_ROWS) }
            let clientFlags = flags
            let connected = configuration.password.withOptionalCString { password in
                mysql_real_connect(
                    handle, configuration.host, configuration.user, password, configuration.database,
                    UInt32(configuration.port), nil, clientFlags)
            }
            if connected == nil {
                var error = lastError(operation: "connect to \(configuration.endpoint) as '\(configuration.user)'")
                if error.code == .tls && configuration.tlsMode.verifiesCertificate {
                    error.message = Self.untrusted(error.message, configuration)
                }
                throw error
            }
        } catch {
            close()  // deinit runs too when init throws; close() is idempotent
            throw error
        }
    }

    deinit { close() }

    /// Closes the connection cleanly (sends COM_QUIT), so a dump thread on the server ends at once.
    public func close() {
        guard !closed else { return }
        closed = true
        mysql_close(handle)
    }

    private func applyOptions() throws(MySQLError) {
        func check(_ result: Int32, _ what: String) throws(MySQLError) {
            if result != 0 { throw MySQLError(.configuration, message: "cannot set \(what)", operation: "connect") }
        }
        try check(binlog_relay_set_uint_option(handle, MYSQL_OPT_CONNECT_TIMEOUT, UInt32(configuration.connectTimeoutSeconds)), "connect timeout")
        try check(binlog_relay_set_uint_option(handle, MYSQL_OPT_READ_TIMEOUT, UInt32(configuration.readTimeoutSeconds)), "read timeout")
        try check(binlog_relay_set_uint_option(handle, MYSQL_OPT_WRITE_TIMEOUT, UInt32(configuration.writeTimeoutSeconds)), "write timeout")
        if configuration.compression { try check(mysql_options(handle, MYSQL_OPT_COMPRESS, nil), "compression") }
        switch configuration.tlsMode {
        case .disabled:
            break
        case .preferred:
            // An SSL setting of any kind makes Connector/C use TLS when the server offers it.
            mysql_ssl_set(handle, configuration.tlsKey, configuration.tlsCertificate, configuration.tlsCA, nil, nil)
            try check(binlog_relay_set_bool_option(handle, MYSQL_OPT_SSL_VERIFY_SERVER_CERT, 0), "TLS verification")
        case .required, .verifyCA, .verifyIdentity:
            mysql_ssl_set(handle, configuration.tlsKey, configuration.tlsCertificate, configuration.tlsCA, nil, nil)
            try check(binlog_relay_set_bool_option(handle, MYSQL_OPT_SSL_ENFORCE, 1), "TLS enforcement")
            let verify: my_bool = configuration.tlsMode.verifiesCertificate ? 1 : 0
            try check(binlog_relay_set_bool_option(handle, MYSQL_OPT_SSL_VERIFY_SERVER_CERT, verify), "TLS verification")
        }
    }

    /// Says in words why a verified TLS connection failed: the library's text alone ("self-signed
    /// certificate in certificate chain", "Validation of SSL server certificate failed") does not
    /// say which side to fix.
    static func untrusted(_ message: String, _ configuration: MySQLConnectionConfiguration) -> String {
        let checked = "ssl-mode=\(configuration.tlsMode.rawValue), ssl-ca=\(configuration.tlsCA ?? "none")"
        if message.contains("Validation of SSL server certificate failed") {
            // Connector/C's own host check (X509_check_host / X509_check_ip_asc) after a good chain.
            return "the server's TLS certificate is not trusted for host '\(configuration.host)': it does not name that host"
                + " in its subjectAltName (\(checked)): \(message)"
        }
        let lower = message.lowercased()
        if ["self-signed", "self signed", "unable to get local issuer", "unable to verify", "unable to get issuer"]
            .contains(where: lower.contains)
        {
            return "the server's TLS certificate is not trusted: it does not chain to the CA in ssl-ca (\(checked)): \(message)"
        }
        return "the server's TLS certificate is not trusted (\(checked)): \(message)"
    }

    /// The library's last error, classified.
    func lastError(operation: String) -> MySQLError {
        let number = mysql_errno(handle)
        let message = String(cString: mysql_error(handle))
        let sqlState = String(cString: mysql_sqlstate(handle))
        let code: MySQLError.Code
        switch number {
        case 1045, 1044, 1698, 1227, 1251: code = .authentication
        // CR_SSL_CONNECTION_ERROR: while connecting, TLS could not be set up (or the certificate is
        // not trusted); on an established connection it is the connection breaking ("TLS/SSL
        // error: unexpected eof while reading" when the server shuts down), which a reconnect cures.
        case 2026: code = operation.hasPrefix("connect") ? .tls : .connection
        case 2002, 2003, 2005, 2006, 2013, 2055: code = .connection
        case 1236: code = .server  // ER_MASTER_FATAL_ERROR_READING_BINLOG: purged or missing position
        default:
            let lower = message.lowercased()
            code = lower.contains("ssl") || lower.contains("tls") || lower.contains("certificate") ? .tls : .query
        }
        return MySQLError(code, number: number, sqlState: sqlState, message: message, operation: operation)
    }

    // MARK: - Facts about the session

    public var serverVersion: String { String(cString: mysql_get_server_info(handle)) }
    public var isMariaDB: Bool { serverVersion.lowercased().contains("mariadb") }
    /// The negotiated TLS cipher, or nil for a plaintext connection.
    public var tlsCipher: String? { mysql_get_ssl_cipher(handle).map { String(cString: $0) } }
    public var serverThreadID: UInt { UInt(mysql_thread_id(handle)) }

    // MARK: - Statements

    /// Queries sent (each one round trip to the server, whatever it holds), for the applier's
    /// status: across a slow link they are what apply time is made of.
    public private(set) var roundTrips = 0

    /// Runs a statement that returns no rows.
    public func execute(_ sql: String) throws(MySQLError) {
        roundTrips += 1
        if mysql_real_query(handle, sql, UInt(sql.utf8.count)) != 0 { throw lastError(operation: "query") }
        // Drain any result so the connection is ready for the next command.
        repeat {
            if let result = mysql_store_result(handle) { mysql_free_result(result) }
        } while mysql_next_result(handle) == 0
    }

    /// What a batch of statements sent as one query did: the rows each statement affected (matched,
    /// with ``MySQLConnectionConfiguration/foundRows``), up to the first that failed.
    public struct BatchOutcome {
        public var affectedRows: [UInt64]
        /// The first failing statement's error; its index is `affectedRows.count`. The statements
        /// after it were not run.
        public var error: MySQLError?
        /// With `keepingResults`: the rows of each statement that returned a result set (a
        /// SELECT), in order; statements without one add nothing.
        public var resultSets: [MySQLResult] = []

        public init(affectedRows: [UInt64], error: MySQLError? = nil, resultSets: [MySQLResult] = []) {
            self.affectedRows = affectedRows
            self.error = error
            self.resultSets = resultSets
        }
    }

    /// Sends `sql` (statements separated by `;`, binary-safe: the bytes go as they are) in one
    /// query and reads every statement's result. Needs ``MySQLConnectionConfiguration/multiStatements``
    /// for more than one statement. One round trip for the whole batch. `keepingResults`: the rows
    /// of the statements that return some (SELECTs riding along with changes) are kept.
    public func executeBatch(_ sql: UnsafeRawBufferPointer, keepingResults: Bool = false) -> BatchOutcome {
        if let error = sendBatch(sql) { return BatchOutcome(affectedRows: [], error: error) }
        return readBatch(keepingResults: keepingResults)
    }

    /// The first half of ``executeBatch(_:keepingResults:)``: sends the statements and returns
    /// without waiting for the server (nil, or the error when they could not be sent). Until
    /// ``readBatch(keepingResults:)`` has read their results nothing else may use the connection;
    /// meanwhile the caller can prepare what it sends next while the server works.
    public func sendBatch(_ sql: UnsafeRawBufferPointer) -> MySQLError? {
        let base = sql.baseAddress?.assumingMemoryBound(to: CChar.self)
        roundTrips += 1
        return mysql_send_query(handle, base, UInt(sql.count)) != 0 ? lastError(operation: "apply") : nil
    }

    /// The second half of ``executeBatch(_:keepingResults:)``: waits for and reads the results of
    /// the statements ``sendBatch(_:)`` sent.
    public func readBatch(keepingResults: Bool = false) -> BatchOutcome {
        var outcome = BatchOutcome(affectedRows: [], error: nil)
        if mysql_read_query_result(handle) != 0 {
            outcome.error = lastError(operation: "apply")
            return outcome
        }
        while true {
            if let result = mysql_store_result(handle) {
                if keepingResults { outcome.resultSets.append(Self.rows(of: result)) }
                mysql_free_result(result)
            }
            outcome.affectedRows.append(mysql_affected_rows(handle))
            let next = mysql_next_result(handle)
            if next == -1 { return outcome }
            if next > 0 {
                outcome.error = lastError(operation: "apply")
                return outcome
            }
        }
    }

    /// Rows the last statement affected (or matched: ``MySQLConnectionConfiguration/foundRows``).
    public var affectedRows: UInt64 { mysql_affected_rows(handle) }

    /// Runs a query and returns its rows as text (NULL as nil) with the column names.
    public func query(_ sql: String) throws(MySQLError) -> MySQLResult {
        roundTrips += 1
        if mysql_real_query(handle, sql, UInt(sql.utf8.count)) != 0 { throw lastError(operation: "query") }
        let rows = try storedResult()
        // Drain anything more (a multi-statement connection) so the next command can go.
        while mysql_next_result(handle) == 0 {
            if let extra = mysql_store_result(handle) { mysql_free_result(extra) }
        }
        return rows
    }

    /// Runs several statements in one round trip (``MySQLConnectionConfiguration/multiStatements``)
    /// and returns every result (empty for statements without rows).
    public func queryAll(_ sql: String) throws(MySQLError) -> [MySQLResult] {
        roundTrips += 1
        if mysql_real_query(handle, sql, UInt(sql.utf8.count)) != 0 { throw lastError(operation: "query") }
        var results: [MySQLResult] = []
        while true {
            results.append(try storedResult())
            let next = mysql_next_result(handle)
            if next == -1 { return results }
            if next > 0 { throw lastError(operation: "query") }
        }
    }

    /// The current result's rows.
    private func storedResult() throws(MySQLError) -> MySQLResult {
        guard let result = mysql_store_result(handle) else {
            if mysql_field_count(handle) == 0 { return MySQLResult(columns: [], rows: []) }
            throw lastError(operation: "query")
        }
        defer { mysql_free_result(result) }
        return Self.rows(of: result)
    }

    /// A stored result's rows as text.
    private static func rows(of result: UnsafeMutablePointer<MYSQL_RES>) -> MySQLResult {
        let count = Int(mysql_num_fields(result))
        var columns: [String] = []
        if let fields = mysql_fetch_fields(result) {
            for index in 0..<count { columns.append(String(cString: fields[index].name)) }
        }
        var rows: [[String?]] = []
        while let row = mysql_fetch_row(result) {
            guard let lengths = mysql_fetch_lengths(result) else { break }
            var values: [String?] = []
            values.reserveCapacity(count)
            for index in 0..<count {
                if let value = row[index] {
                    let buffer = UnsafeRawBufferPointer(start: value, count: Int(lengths[index]))
                    values.append(String(decoding: buffer, as: UTF8.self))
                } else {
                    values.append(nil)
                }
            }
            rows.append(values)
        }
        return MySQLResult(columns: columns, rows: rows)
    }

    /// Escapes a string for use inside single quotes, by the connection's character set.
    public func escape(_ text: String) -> String {
        let bytes = Array(text.utf8)
        var output = [CChar](repeating: 0, count: bytes.count * 2 + 1)
        let length = bytes.withUnsafeBufferPointer { input in
            input.withMemoryRebound(to: CChar.self) { chars in
                mysql_real_escape_string(handle, &output, chars.baseAddress, UInt(bytes.count))
            }
        }
        return String(decoding: output.prefix(Int(length)).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    // MARK: - Raw protocol for replication

    /// Sends a command whose reply the caller reads with ``readPacket()`` (or that has none).
    func sendCommand(_ command: UInt8, _ argument: [UInt8], expectReply: Bool) throws(MySQLError) {
        let result = argument.withUnsafeBufferPointer { buffer in
            binlog_relay_send_command(handle, UInt32(command), buffer.baseAddress, buffer.count, expectReply ? 0 : 1)
        }
        if result != 0 { throw lastError(operation: "send command 0x\(String(command, radix: 16))") }
    }

    /// Whether more input can be read without waiting: bytes buffered by the library or readable
    /// on the socket. (A TLS record already inside OpenSSL is not counted.)
    var hasPendingInput: Bool { binlog_relay_has_pending_input(handle) != 0 }

    /// Reads the next packet; the bytes are valid until the next read on this connection.
    /// `operation` is only evaluated for an error (this runs once per event).
    func readPacket(operation: @autoclosure () -> String) throws(MySQLError) -> UnsafeRawBufferPointer {
        let length = mysql_net_read_packet(handle)
        // packet_error is ((unsigned int) -1), returned in an unsigned long; the library has
        // already turned an error packet into mysql_errno/mysql_error.
        if length == UInt(UInt32.max) || length == UInt.max || length == 0 {
            throw lastError(operation: operation())
        }
        return UnsafeRawBufferPointer(start: binlog_relay_packet_bytes(handle), count: Int(length))
    }
}

/// Rows of a text-protocol result.
public struct MySQLResult: Sendable {
    public var columns: [String]
    public var rows: [[String?]]

    /// The first row as a column-name dictionary (SHOW … results are easier to read that way).
    public var firstRow: [String: String?]? {
        rows.first.map { Dictionary(zip(columns, $0), uniquingKeysWith: { first, _ in first }) }
    }

    /// The single value of a one-row, one-column result.
    public var scalar: String? { rows.first?.first ?? nil }
}

extension Optional where Wrapped == String {
    func withOptionalCString<Result>(_ body: (UnsafePointer<CChar>?) -> Result) -> Result {
        switch self {
        case .some(let string): string.withCString(body)
        case .none: body(nil)
        }
    }
}
