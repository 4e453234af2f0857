#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import SystemPackage

// The system calls swift-system 1.8.1 does not wrap (fsync, fdatasync, flock, mkdir, rename,
// unlink, directory listing, mmap), in its shape: a public-style throwing method over an internal
// `_name() -> Result<_, Errno>`, EINTR retried in one helper.

/// Runs `body` until it does not fail with EINTR; -1 becomes the current errno.
func valueOrErrno<I: FixedWidthInteger>(retryOnInterrupt: Bool = true, _ body: () -> I) -> Result<I, Errno> {
    while true {
        let value = body()
        if value != -1 { return .success(value) }
        let error = Errno(rawValue: errno)
        if retryOnInterrupt && error == .interrupted { continue }
        return .failure(error)
    }
}

func nothingOrErrno<I: FixedWidthInteger>(retryOnInterrupt: Bool = true, _ body: () -> I) -> Result<Void, Errno> {
    valueOrErrno(retryOnInterrupt: retryOnInterrupt, body).map { _ in () }
}

extension FileDescriptor {
    /// Flushes the file's data (and the metadata needed to read it back, such as its size) to
    /// the storage device.
    ///
    /// The corresponding C function is `fdatasync`.
    func dataSync(retryOnInterrupt: Bool = true) throws(Errno) {
        try _dataSync(retryOnInterrupt: retryOnInterrupt).get()
    }

    func _dataSync(retryOnInterrupt: Bool) -> Result<Void, Errno> {
        #if os(Linux)
        nothingOrErrno(retryOnInterrupt: retryOnInterrupt) { fdatasync(self.rawValue) }
        #else
        nothingOrErrno(retryOnInterrupt: retryOnInterrupt) { fsync(self.rawValue) }
        #endif
    }

    /// Flushes the file's data and all its metadata; on a directory, its entries.
    ///
    /// The corresponding C function is `fsync`.
    func fullSync(retryOnInterrupt: Bool = true) throws(Errno) {
        try _fullSync(retryOnInterrupt: retryOnInterrupt).get()
    }

    func _fullSync(retryOnInterrupt: Bool) -> Result<Void, Errno> {
        nothingOrErrno(retryOnInterrupt: retryOnInterrupt) { fsync(self.rawValue) }
    }

    /// Takes an exclusive advisory lock without waiting; false when another open file holds it.
    ///
    /// The corresponding C function is `flock(LOCK_EX | LOCK_NB)`.
    func tryLockExclusive() throws(Errno) -> Bool {
        switch nothingOrErrno(retryOnInterrupt: true, { flock(self.rawValue, LOCK_EX | LOCK_NB) }) {
        case .success: return true
        case .failure(let error) where error == .wouldBlock: return false
        case .failure(let error): throw error
        }
    }

    /// The file's size and modification time (seconds since the epoch).
    ///
    /// The corresponding C function is `fstat`.
    func sizeAndModificationTime() throws(Errno) -> (size: Int64, modified: Int64) {
        let info = try self.stat()
        return (info.size, Int64(info.st_mtim.tv_sec))
    }
}

enum FileSystem {
    /// Creates `path` and any missing parents (mode 0750), like `mkdir -p`, and fsyncs the parent
    /// of each directory it creates (so the new entries survive a power loss).
    static func createDirectories(_ path: FilePath) throws(RelayLogError) {
        var current = path.root.map { FilePath(root: $0) } ?? FilePath()
        for component in path.components {
            let parent = current.isEmpty ? FilePath(".") : current
            current.append(component)
            let result = current.withPlatformString { name in nothingOrErrno { mkdir(name, 0o750) } }
            switch result {
            case .success:
                do {
                    let descriptor = try FileDescriptor.open(parent, .readOnly, options: [.directory])
                    defer { try? descriptor.close() }
                    try descriptor.fullSync()
                } catch {
                    throw .system(error as? Errno ?? .ioError, "cannot fsync the directory", path: parent)
                }
            case .failure(let error) where error == .fileExists:
                continue
            case .failure(let error):
                throw .system(error, "cannot create the directory", path: current)
            }
        }
    }

    /// Names of the entries of a directory (no "." and "..").
    static func listDirectory(_ path: FilePath) throws(RelayLogError) -> [String] {
        guard let directory = path.withPlatformString({ opendir($0) }) else {
            throw .system(Errno(rawValue: errno), "cannot list the directory", path: path)
        }
        defer { closedir(directory) }
        var names: [String] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    static func removeFile(_ path: FilePath) -> Result<Void, Errno> {
        path.withPlatformString { name in nothingOrErrno { unlink(name) } }
    }

    static func renameFile(_ from: FilePath, to: FilePath) -> Result<Void, Errno> {
        from.withPlatformString { old in to.withPlatformString { new in nothingOrErrno { rename(old, new) } } }
    }

    /// Whether a file exists at `path` (any kind of entry).
    static func exists(_ path: FilePath) -> Bool {
        var info = stat()
        return path.withPlatformString { stat($0, &info) } == 0
    }
}

/// A read-only memory map of the first `count` bytes of a file; unmapped on deinit.
final class MappedRegion {
    let bytes: UnsafeRawBufferPointer

    init(_ descriptor: FileDescriptor, count: Int, path: FilePath) throws(RelayLogError) {
        guard count > 0 else {
            bytes = UnsafeRawBufferPointer(start: nil, count: 0)
            return
        }
        let address = mmap(nil, count, PROT_READ, MAP_SHARED, descriptor.rawValue, 0)
        guard let address, address != MAP_FAILED else {
            throw .system(Errno(rawValue: errno), "cannot map \(count) bytes", path: path)
        }
        bytes = UnsafeRawBufferPointer(start: address, count: count)
    }

    deinit {
        if let base = bytes.baseAddress { munmap(UnsafeMutableRawPointer(mutating: base), bytes.count) }
    }

    /// Drops the pages before `offset` from this process (they stay in the page cache, and come
    /// back if read again): a reader going through a large segment keeps its resident memory
    /// small instead of growing by the whole segment.
    func release(before offset: Int) {
        guard let base = bytes.baseAddress else { return }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let length = min(offset, bytes.count) / page * page
        guard length > 0 else { return }
        _ = madvise(UnsafeMutableRawPointer(mutating: base), length, MADV_DONTNEED)
    }
}

/// Wall-clock seconds since the epoch (for retention ages and the state file).
func wallClockSeconds() -> Int64 {
    var now = timespec()
    clock_gettime(CLOCK_REALTIME, &now)
    return Int64(now.tv_sec)
}

extension UnsafeRawBufferPointer {
    /// Loads `width` (1...8) bytes at `offset` as a little-endian integer. The caller checks bounds.
    func loadLittleEndian(at offset: Int, width: Int) -> UInt64 {
        var value: UInt64 = 0
        for index in (0..<width).reversed() { value = value << 8 | UInt64(self[offset + index]) }
        return value
    }
}

/// `Array.withUnsafeBytes` for a body with typed throws (the standard one only rethrows untyped).
func withBytes<R>(of array: [UInt8], _ body: (UnsafeRawBufferPointer) throws(RelayLogError) -> R)
    throws(RelayLogError) -> R
{
    var result: Result<R, RelayLogError>?
    array.withUnsafeBytes { raw in result = Result { () throws(RelayLogError) -> R in try body(raw) } }
    return try result!.get()
}
