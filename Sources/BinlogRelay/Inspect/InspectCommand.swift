import ArgumentParser
import BinlogFormat

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Turns decoded events into output bytes.
protocol EventFormatter {
    func write(_ event: BinlogEvent, decoder: inout BinlogDecoder, into output: inout [UInt8]) throws(BinlogError)
}

/// `binlog-relay inspect`: decodes binlog files like `mysqlbinlog -vv`.
struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Decode binlog files (the source's or the relay's own log) as text or JSON lines."
    )

    enum Format: String, ExpressibleByArgument, CaseIterable {
        case text, jsonl
    }

    @Option(help: "Output format: text (like mysqlbinlog -vv) or jsonl (one JSON object per event).")
    var format: Format = .text

    @Flag(name: .customLong("no-verify-checksum"), help: "Do not verify each event's CRC32.")
    var noVerifyChecksum = false

    @Argument(help: "Binlog files, or directories whose files are decoded in name order.")
    var paths: [String]

    func run() throws {
        try InspectCommand.run(files: try InspectCommand.expand(paths), format: format, verifyChecksums: !noVerifyChecksum)
    }

    /// `inspect [--format text|jsonl] [--format=…] [--no-verify-checksum] [--] PATH…`, read
    /// without ArgumentParser (see ``BinlogRelayCommand/main()``). Nil for anything else
    /// (help, a repeated or unknown option, no path, a path that does not exist), which
    /// ArgumentParser then handles and reports as usual.
    struct PlainInvocation {
        var format = Format.text
        var verifyChecksums = true
        var files: [String] = []

        init?(_ arguments: ArraySlice<String>) {
            var arguments = arguments
            guard arguments.popFirst() == "inspect" else { return nil }
            var paths: [String] = []
            var formatGiven = false
            var optionsEnded = false
            while let argument = arguments.popFirst() {
                if optionsEnded || !argument.hasPrefix("-") {
                    paths.append(argument)
                    continue
                }
                var value: String?
                switch argument {
                case "--":
                    optionsEnded = true
                    continue
                case "--no-verify-checksum":
                    guard verifyChecksums else { return nil }
                    verifyChecksums = false
                    continue
                case "--format":
                    value = arguments.popFirst()
                case "--format=text": value = "text"
                case "--format=jsonl": value = "jsonl"
                default:
                    return nil
                }
                guard !formatGiven, let value, let format = Format(rawValue: value) else { return nil }
                formatGiven = true
                self.format = format
            }
            guard !paths.isEmpty, let files = try? InspectCommand.expand(paths) else { return nil }
            self.files = files
        }

        func run() throws {
            try InspectCommand.run(files: files, format: format, verifyChecksums: verifyChecksums)
        }
    }

    static func run(files: [String], format: Format, verifyChecksums: Bool) throws {
        var output = OutputBuffer()
        var failed = false
        for file in files {
            do {
                try InspectCommand.decode(file: file, format: format, verifyChecksums: verifyChecksums, output: &output)
            } catch let error as BinlogError {
                try output.flush()
                printError("binlog-relay inspect: \(error)")
                failed = true
            } catch {
                try output.flush()
                printError("binlog-relay inspect: \(error)")
                failed = true
            }
        }
        try output.flush()
        if failed { throw ExitCode.failure }
    }

    static func decode(file: String, format: Format, verifyChecksums: Bool, output: inout OutputBuffer) throws {
        let mapped = try MappedFile(path: file)
        var reader = try BinlogFileReader(bytes: mapped.bytes, file: file, verifiesChecksums: verifyChecksums)
        let formatter: any EventFormatter = format == .text ? TextFormatter() : JSONLinesFormatter()
        if format == .text { output.append("# file \(file)\n") }
        while let event = try reader.next() {
            do {
                try formatter.write(event, decoder: &reader.decoder, into: &output.bytes)
            } catch {
                var error = error
                error.file = file
                throw error.inEventIfUnknown(at: event.offset, type: event.type)
            }
            try output.flushIfLarge()
        }
        withExtendedLifetime(mapped) {}
    }

    /// Files in the order given; a directory contributes its regular files sorted by name,
    /// skipping the reference outputs kept beside fixtures.
    static func expand(_ paths: [String]) throws -> [String] {
        var files: [String] = []
        for path in paths {
            var info = stat()
            guard stat(path, &info) == 0 else {
                throw ValidationError("\(path): \(String(cString: strerror(errno)))")
            }
            if info.st_mode & S_IFMT == S_IFDIR {
                files.append(contentsOf: try listDirectory(path))
            } else {
                files.append(path)
            }
        }
        return files
    }

    private static func listDirectory(_ path: String) throws -> [String] {
        guard let directory = opendir(path) else {
            throw ValidationError("\(path): \(String(cString: strerror(errno)))")
        }
        defer { closedir(directory) }
        var names: [String] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if name.hasPrefix(".") { continue }
            let full = path.hasSuffix("/") ? path + name : path + "/" + name
            var info = stat()
            // A directory (a server's binlog directory, the relay's log) also holds index, state and
            // lock files: take only the files that start with the binlog magic.
            if stat(full, &info) == 0 && info.st_mode & S_IFMT == S_IFREG && startsWithBinlogMagic(full) {
                names.append(full)
            }
        }
        return names.sorted()
    }
}

private func startsWithBinlogMagic(_ path: String) -> Bool {
    let descriptor = open(path, O_RDONLY)
    guard descriptor >= 0 else { return false }
    defer { close(descriptor) }
    var magic: (UInt8, UInt8, UInt8, UInt8) = (0, 0, 0, 0)
    let count = withUnsafeMutableBytes(of: &magic) { read(descriptor, $0.baseAddress, 4) }
    return count == 4 && magic == (0xFE, 0x62, 0x69, 0x6E)
}

func printError(_ message: String) {
    var line = message
    line.append("\n")
    _ = line.withCString { write(2, $0, strlen($0)) }
}

extension BinlogError {
    func inEventIfUnknown(at offset: Int, type: EventType) -> BinlogError {
        var copy = self
        if copy.eventOffset == nil {
            copy.eventOffset = offset
            copy.eventType = type
        }
        return copy
    }
}
