/// Where and how to connect: host, credentials, TLS, compression, timeouts.
public struct MySQLConnectionConfiguration: Sendable, Equatable {
    /// TLS modes, as MySQL's `--ssl-mode` names them.
    public enum TLSMode: String, Sendable, CaseIterable {
        /// Plaintext.
        case disabled = "DISABLED"
        /// TLS when the server offers it, without verifying the certificate.
        case preferred = "PREFERRED"
        /// TLS or no connection, without verifying the certificate.
        case required = "REQUIRED"
        /// TLS with the server certificate verified against `ssl-ca`. Connector/C 3.3 checks the
        /// host name together with the chain, so this is as strict as VERIFY_IDENTITY.
        case verifyCA = "VERIFY_CA"
        /// TLS with the certificate verified against `ssl-ca` and the host name checked.
        case verifyIdentity = "VERIFY_IDENTITY"

        public var verifiesCertificate: Bool { self == .verifyCA || self == .verifyIdentity }
    }

    public var host: String
    public var port: Int
    public var user: String
    public var password: String?
    public var database: String?
    public var tlsMode: TLSMode
    /// CA certificate file (PEM) for VERIFY_CA / VERIFY_IDENTITY.
    public var tlsCA: String?
    /// Client certificate and key (PEM), for servers that require them.
    public var tlsCertificate: String?
    public var tlsKey: String?
    /// zlib protocol compression.
    public var compression: Bool
    public var connectTimeoutSeconds: Int
    /// How long a read may wait; a replication stream sets it to a few heartbeat periods.
    public var readTimeoutSeconds: Int
    public var writeTimeoutSeconds: Int
    /// Several statements in one query (one round trip for a batch): the applier's connections.
    public var multiStatements = false
    /// UPDATE reports the rows it matched, not only those it changed (CLIENT_FOUND_ROWS), so an
    /// update that finds its row always counts 1.
    public var foundRows = false

    public init(
        host: String = "127.0.0.1", port: Int = 3306, user: String, password: String? = nil, database: String? = nil,
        tlsMode: TLSMode = .preferred, tlsCA: String? = nil, tlsCertificate: String? = nil, tlsKey: String? = nil,
        compression: Bool = false, connectTimeoutSeconds: Int = 10, readTimeoutSeconds: Int = 60,
        writeTimeoutSeconds: Int = 60
    ) {
        self.host = host
        self.port = port
        self.user = user
        self.password = password
        self.database = database
        self.tlsMode = tlsMode
        self.tlsCA = tlsCA
        self.tlsCertificate = tlsCertificate
        self.tlsKey = tlsKey
        self.compression = compression
        self.connectTimeoutSeconds = connectTimeoutSeconds
        self.readTimeoutSeconds = readTimeoutSeconds
        self.writeTimeoutSeconds = writeTimeoutSeconds
    }

    /// Parses `mysql://user[:password]@host[:port][/database][?ssl-mode=…&ssl-ca=…&ssl-cert=…&ssl-key=…&compress=true]`
    /// (MySQL URI style). User and password may be percent-encoded. `defaultTLS` is the mode when
    /// the URL names none (the target defaults to VERIFY_IDENTITY).
    public init(url: String, defaultTLS: TLSMode = .preferred) throws(MySQLError) {
        func bad(_ why: String) -> MySQLError {
            // Never echo the URL: it may hold a password.
            MySQLError(.configuration, message: why, operation: "parse connection URL")
        }
        guard url.hasPrefix("mysql://") else { throw bad("the URL must start with mysql://") }
        var rest = Substring(url.dropFirst("mysql://".count))
        var query: Substring = ""
        if let mark = rest.firstIndex(of: "?") {
            query = rest[rest.index(after: mark)...]
            rest = rest[..<mark]
        }
        guard let at = rest.lastIndex(of: "@") else { throw bad("the URL names no user (mysql://user@host)") }
        let credentials = rest[..<at]
        var hostPart = rest[rest.index(after: at)...]
        var database: String?
        if let slash = hostPart.firstIndex(of: "/") {
            let name = hostPart[hostPart.index(after: slash)...]
            database = name.isEmpty ? nil : try Self.percentDecoded(name, bad)
            hostPart = hostPart[..<slash]
        }
        let user: String
        var password: String?
        if let colon = credentials.firstIndex(of: ":") {
            user = try Self.percentDecoded(credentials[..<colon], bad)
            password = try Self.percentDecoded(credentials[credentials.index(after: colon)...], bad)
        } else {
            user = try Self.percentDecoded(credentials, bad)
        }
        guard !user.isEmpty else { throw bad("the URL names no user") }
        var host = String(hostPart)
        var port = 3306
        if hostPart.hasPrefix("[") {  // [IPv6]:port
            guard let close = hostPart.firstIndex(of: "]") else { throw bad("unterminated [IPv6] host") }
            host = String(hostPart[hostPart.index(after: hostPart.startIndex)..<close])
            let after = hostPart[hostPart.index(after: close)...]
            if after.hasPrefix(":") {
                guard let value = Int(after.dropFirst()), (1...65535).contains(value) else { throw bad("bad port") }
                port = value
            }
        } else if let colon = hostPart.lastIndex(of: ":") {
            host = String(hostPart[..<colon])
            guard let value = Int(hostPart[hostPart.index(after: colon)...]), (1...65535).contains(value) else {
                throw bad("bad port in the URL")
            }
            port = value
        }
        guard !host.isEmpty else { throw bad("the URL names no host") }
        self.init(host: host, port: port, user: user, password: password, database: database, tlsMode: defaultTLS)
        for pair in query.split(separator: "&") where !pair.isEmpty {
            let parts = pair.split(separator: "=", maxSplits: 1)
            let key = parts[0].lowercased()
            let value = parts.count > 1 ? try Self.percentDecoded(parts[1], bad) : ""
            switch key {
            case "ssl-mode", "sslmode", "ssl_mode":
                guard let mode = TLSMode(rawValue: value.uppercased()) else {
                    throw bad("ssl-mode must be one of \(TLSMode.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                tlsMode = mode
            case "ssl-ca", "ssl_ca": tlsCA = value
            case "ssl-cert", "ssl_cert": tlsCertificate = value
            case "ssl-key", "ssl_key": tlsKey = value
            case "compress", "compression":
                guard let flag = ["true": true, "1": true, "false": false, "0": false][value.lowercased()] else {
                    throw bad("compress must be true or false")
                }
                compression = flag
            case "connect-timeout", "connect_timeout":
                guard let seconds = Int(value), seconds > 0 else { throw bad("connect-timeout must be seconds > 0") }
                connectTimeoutSeconds = seconds
            default:
                throw bad("unknown URL parameter '\(key)'")
            }
        }
        if tlsMode.verifiesCertificate && tlsCA == nil {
            throw bad("ssl-mode=\(tlsMode.rawValue) needs ssl-ca (the CA certificate that signed the server's)")
        }
    }

    private static func percentDecoded(_ text: Substring, _ bad: (String) -> MySQLError) throws(MySQLError) -> String {
        var bytes: [UInt8] = []
        var iterator = text.utf8.makeIterator()
        while let byte = iterator.next() {
            if byte == UInt8(ascii: "%") {
                guard let high = iterator.next().flatMap(hexValue), let low = iterator.next().flatMap(hexValue) else {
                    throw bad("bad percent-encoding in the URL")
                }
                bytes.append(high << 4 | low)
            } else {
                bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - 48
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - 87
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - 55
        default: nil
        }
    }

    /// "host:port" for messages (never the user or password).
    public var endpoint: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}
