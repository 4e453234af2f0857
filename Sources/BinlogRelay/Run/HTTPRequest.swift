#if canImport(Glibc)
import Glibc
#endif

/// A one-shot HTTP/1.1 request to a relay's own endpoint (`status`, `promote`): a few lines over
/// a socket, not an HTTP client library, since the peer is always this program.
struct HTTPRequest {
    struct Response {
        var status: Int
        var body: [UInt8]
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String
        /// Nothing listens there (the relay is not running).
        var refused = false
    }

    var method = "GET"
    var host: String
    var port: Int
    var path: String
    /// 0: wait as long as it takes (a promote applies the whole backlog first).
    var timeoutSeconds = 10

    /// `http://host:port` or `host:port`.
    static func endpoint(_ url: String) -> (String, Int)? {
        var text = Substring(url)
        if text.hasPrefix("http://") { text = text.dropFirst(7) }
        if let slash = text.firstIndex(of: "/") { text = text[..<slash] }
        guard let (host, port) = RelaySettings.hostAndPort(String(text)) else { return nil }
        // A relay listening on every address is reached on this machine's loopback.
        return (host == "0.0.0.0" || host == "::" ? "127.0.0.1" : host, port)
    }

    func send() throws(Failure) -> Response {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, String(port), &hints, &list) == 0, let first = list else {
            throw Failure(description: "cannot resolve \(host)")
        }
        defer { freeaddrinfo(list) }
        let socketDescriptor = socket(first.pointee.ai_family, first.pointee.ai_socktype, first.pointee.ai_protocol)
        guard socketDescriptor >= 0 else { throw Failure(description: "socket: \(String(cString: strerror(errno)))") }
        defer { close(socketDescriptor) }
        if timeoutSeconds > 0 {
            var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
            setsockopt(socketDescriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        }
        guard connect(socketDescriptor, first.pointee.ai_addr, first.pointee.ai_addrlen) == 0 else {
            let refused = errno == ECONNREFUSED
            throw Failure(description: "cannot connect to \(host):\(port): \(String(cString: strerror(errno)))", refused: refused)
        }
        let request = "\(method) \(path) HTTP/1.1\r\nHost: \(host):\(port)\r\nConnection: close\r\nContent-Length: 0\r\nUser-Agent: binlog-relay\r\n\r\n"
        var bytes = Array(request.utf8)
        var sent = 0
        while sent < bytes.count {
            let count = bytes[sent...].withUnsafeBytes { write(socketDescriptor, $0.baseAddress, $0.count) }
            guard count > 0 else { throw Failure(description: "cannot send to \(host):\(port)") }
            sent += count
        }
        bytes = []
        var buffer = [UInt8](repeating: 0, count: 64 << 10)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(socketDescriptor, $0.baseAddress, $0.count) }
            if count < 0 { throw Failure(description: "no answer from \(host):\(port) within \(timeoutSeconds) s") }
            if count == 0 { break }
            bytes.append(contentsOf: buffer[0..<count])
        }
        return try Self.parse(bytes)
    }

    static func parse(_ bytes: [UInt8]) throws(Failure) -> Response {
        let separator: [UInt8] = [13, 10, 13, 10]
        guard let end = bytes.firstRange(of: separator) else { throw Failure(description: "not an HTTP response") }
        let head = String(decoding: bytes[..<end.lowerBound], as: UTF8.self)
        let lines = head.split(separator: "\r\n")
        guard let statusLine = lines.first, statusLine.hasPrefix("HTTP/1."),
            let status = Int(statusLine.split(separator: " ").dropFirst().first ?? "")
        else { throw Failure(description: "not an HTTP response") }
        var body = Array(bytes[end.upperBound...])
        let chunked = lines.contains { $0.lowercased().hasPrefix("transfer-encoding:") && $0.lowercased().contains("chunked") }
        if chunked {
            var decoded: [UInt8] = []
            var rest = body[...]
            while let lineEnd = rest.firstRange(of: [13, 10]) {
                let sizeText = String(decoding: rest[..<lineEnd.lowerBound], as: UTF8.self).split(separator: ";").first ?? ""
                guard let size = Int(sizeText.trimmingSpaces, radix: 16), size > 0 else { break }
                let start = lineEnd.upperBound
                guard rest.endIndex - start >= size else { break }
                decoded.append(contentsOf: rest[start..<(start + size)])
                rest = rest[min(rest.endIndex, start + size + 2)...]
            }
            body = decoded
        }
        return Response(status: status, body: body)
    }
}
