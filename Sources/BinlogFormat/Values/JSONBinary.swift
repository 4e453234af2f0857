// Placeholder until the JSON decoder lands.
public struct JSONDiffList {
    public let bytes: UnsafeRawBufferPointer
    public init(bytes: UnsafeRawBufferPointer) { self.bytes = bytes }
}
public enum JSONBinary {
    public static func writeText(_ document: UnsafeRawBufferPointer, into output: inout [UInt8]) throws(BinlogError) {}
}
extension JSONDiffList {
    public func sqlExpression(column: String) throws(BinlogError) -> String { column }
}
