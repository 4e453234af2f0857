import Foundation

/// What a program run by ``runProgram(_:_:)`` left behind.
public struct ProgramResult: Sendable {
    public var status: Int32
    public var output: Data
    public var error: Data
    public var errorText: String { String(decoding: error, as: UTF8.self) }
    public var outputText: String { String(decoding: output, as: UTF8.self) }
}

/// Runs a program that exits by itself (not a daemon: see ``ChildProcess``) and collects its
/// standard output and standard error. Standard error is drained on a thread of its own, so a
/// chatty program cannot fill one pipe while the other is being read.
public func runProgram(_ executable: String, _ arguments: [String]) throws -> ProgramResult {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    let output = Pipe()
    let error = Pipe()
    process.standardOutput = output
    process.standardError = error
    process.standardInput = FileHandle.nullDevice
    try process.run()
    let errorData = ErrorBox()
    let drained = DispatchSemaphore(value: 0)
    Thread.detachNewThread {
        errorData.data = error.fileHandleForReading.readDataToEndOfFile()
        drained.signal()
    }
    let outputData = output.fileHandleForReading.readDataToEndOfFile()
    drained.wait()
    process.waitUntilExit()
    return ProgramResult(status: process.terminationStatus, output: outputData, error: errorData.data)
}

private final class ErrorBox: @unchecked Sendable {
    var data = Data()
}
