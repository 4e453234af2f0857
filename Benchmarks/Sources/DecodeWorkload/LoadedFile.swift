#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A whole file read into memory once, before anything is measured.
public final class LoadedFile: @unchecked Sendable {
    public let path: String
    public let bytes: UnsafeRawBufferPointer

    public init(path: String) throws(LoadError) {
        self.path = path
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw LoadError(path: path, errno: errno) }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw LoadError(path: path, errno: errno) }
        let size = Int(info.st_size)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(size, 1), alignment: 16)
        var done = 0
        while done < size {
            let n = read(fd, buffer.baseAddress! + done, size - done)
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else {
                let code = n == 0 ? EIO : errno
                buffer.deallocate()
                throw LoadError(path: path, errno: code)
            }
            done += n
        }
        bytes = UnsafeRawBufferPointer(rebasing: buffer[0..<size])
    }

    /// The file name without its directories.
    public var name: String { String(path.split(separator: "/").last ?? Substring(path)) }

    deinit { UnsafeMutableRawPointer(mutating: bytes.baseAddress)?.deallocate() }
}

public struct LoadError: Error, CustomStringConvertible {
    public var path: String
    public var errno: Int32
    public var description: String { "\(path): \(String(cString: strerror(errno)))" }
}
