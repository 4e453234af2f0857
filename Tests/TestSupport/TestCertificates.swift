import Foundation

/// Certificates made with `openssl` at test time in a temporary directory: a CA, a server
/// certificate it signed for 127.0.0.1 and localhost, and a second CA that signed nothing the
/// server holds (for "not trusted").
public struct TestCertificates: Sendable {
    public let directory: URL
    /// The CA that signed the server's certificate (PEM).
    public var ca: String { directory.appendingPathComponent("ca.pem").path }
    /// A CA that did not sign it.
    public var otherCA: String { directory.appendingPathComponent("other-ca.pem").path }
    public var serverCertificate: String { directory.appendingPathComponent("server.pem").path }
    public var serverKey: String { directory.appendingPathComponent("server.key").path }

    /// The mariadbd options that make the server offer TLS with this certificate.
    public var serverOptions: [String] { ["--ssl-ca=\(ca)", "--ssl-cert=\(serverCertificate)", "--ssl-key=\(serverKey)"] }

    /// Makes the files (a second or two: three RSA-2048 keys).
    public static func make() throws -> TestCertificates {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("binlog-relay-tls-\(getpid())-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let script = """
            set -e
            cd "$1"
            openssl req -x509 -newkey rsa:2048 -nodes -days 2 -keyout ca.key -out ca.pem \
                -subj "/CN=binlog-relay test CA" -addext "basicConstraints=critical,CA:TRUE" \
                -addext "keyUsage=critical,keyCertSign,cRLSign"
            openssl req -x509 -newkey rsa:2048 -nodes -days 2 -keyout other-ca.key -out other-ca.pem \
                -subj "/CN=binlog-relay untrusted CA" -addext "basicConstraints=critical,CA:TRUE" \
                -addext "keyUsage=critical,keyCertSign,cRLSign"
            openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj "/CN=127.0.0.1"
            printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\nbasicConstraints=CA:FALSE\\nkeyUsage=digitalSignature,keyEncipherment\\nextendedKeyUsage=serverAuth\\n' > server.ext
            openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
                -extfile server.ext -out server.pem
            chmod 644 server.key
            """
        let (status, output) = try MariaDBSandbox.run("/bin/bash", ["-c", script, "make-certificates", directory.path])
        guard status == 0 else {
            throw MariaDBSandbox.SandboxError(description: "openssl failed (\(status)): \(output)")
        }
        return TestCertificates(directory: directory)
    }

    public func remove() { try? FileManager.default.removeItem(at: directory) }
}
