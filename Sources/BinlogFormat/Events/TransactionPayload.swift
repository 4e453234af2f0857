import CZstd

extension BinlogDecoder {
    /// Decodes the events inside a TRANSACTION_PAYLOAD, one at a time, decompressing the zstd
    /// stream as it goes: memory stays at the size of the largest inner event, never the whole
    /// transaction. Inner events carry no checksum. Each event passed to `body` is valid only
    /// during that call.
    /// - Returns: how many events there were and the largest window the decompression needed.
    @discardableResult
    public mutating func forEachEvent(
        in payload: TransactionPayloadEvent, _ body: (BinlogEvent) throws(BinlogError) -> Void
    ) throws(BinlogError) -> PayloadStatistics {
        var statistics = PayloadStatistics()
        switch payload.compression {
        case TransactionPayloadEvent.none:
            var offset = 0
            let bytes = payload.payload
            while offset < bytes.count {
                let event = try Self.frame(bytes, at: offset, baseOffset: payload.payloadOffset)
                try body(try decode(event, at: payload.payloadOffset + offset, hasChecksum: false))
                offset += event.count
                statistics.events += 1
            }
            statistics.uncompressedBytes = bytes.count
        case TransactionPayloadEvent.zstd:
            let stream = try ZstdEventStream(compressed: payload.payload, baseOffset: payload.payloadOffset)
            var innerOffset = 0
            while let event = try stream.nextEvent() {
                // Inner events are numbered by their offset inside the uncompressed payload.
                try body(try decode(event, at: innerOffset, hasChecksum: false))
                innerOffset += event.count
                statistics.events += 1
            }
            statistics.uncompressedBytes = innerOffset
            statistics.largestWindow = stream.windowSize
        default:
            throw BinlogError(
                .unsupported, "transaction payload compressed with unknown algorithm \(payload.compression)",
                offset: payload.payloadOffset)
        }
        return statistics
    }

    /// What iterating a payload took.
    public struct PayloadStatistics: Sendable, Equatable {
        public var events = 0
        public var uncompressedBytes = 0
        /// Bytes of the decompression window (0 for an uncompressed payload): about the largest
        /// inner event, whatever the size of the transaction.
        public var largestWindow = 0

        public init() {}
    }

    /// The event starting at `offset` in `bytes`, checked to be whole.
    static func frame(_ bytes: UnsafeRawBufferPointer, at offset: Int, baseOffset: Int) throws(BinlogError)
        -> UnsafeRawBufferPointer
    {
        let remaining = bytes.count - offset
        guard remaining >= EventHeader.length else {
            throw BinlogError(
                .truncated, "event header needs 19 bytes, \(remaining) left", offset: baseOffset + offset)
        }
        let size = Int(bytes.loadLittleEndian(at: offset + 9, width: 4))
        guard size >= EventHeader.length else {
            throw BinlogError(.corrupt, "event size \(size) is smaller than its header", offset: baseOffset + offset)
        }
        guard size <= remaining else {
            let type = EventType(rawValue: bytes[offset + 4])
            throw BinlogError(
                .truncated, "\(type) needs \(size) bytes, \(remaining) left", offset: baseOffset + offset)
        }
        return UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + size)])
    }
}

/// Streams events out of a zstd-compressed transaction payload with a window no larger than
/// the largest event.
final class ZstdEventStream {
    private let stream: OpaquePointer
    private var input: ZSTD_inBuffer
    private let baseOffset: Int
    private var buffer: UnsafeMutableRawBufferPointer
    /// Valid bytes in `buffer` start at `start` and end at `end`.
    private var start = 0
    private var end = 0
    private var finished = false

    init(compressed: UnsafeRawBufferPointer, baseOffset: Int) throws(BinlogError) {
        guard let stream = ZSTD_createDStream() else {
            throw BinlogError(.unsupported, "zstd could not allocate a decompression stream")
        }
        self.stream = stream
        ZSTD_initDStream(stream)
        self.input = ZSTD_inBuffer(src: compressed.baseAddress, size: compressed.count, pos: 0)
        self.baseOffset = baseOffset
        self.buffer = .allocate(byteCount: 1 << 16, alignment: 16)
    }

    /// Current size of the decompression window.
    var windowSize: Int { buffer.count }

    deinit {
        ZSTD_freeDStream(stream)
        buffer.deallocate()
    }

    /// The next whole event, valid until the next call; nil at the end of the payload.
    func nextEvent() throws(BinlogError) -> UnsafeRawBufferPointer? {
        try fill(atLeast: EventHeader.length)
        if end - start == 0 { return nil }
        guard end - start >= EventHeader.length else {
            throw BinlogError(.truncated, "payload ends inside an event header", offset: baseOffset + input.pos)
        }
        let view = UnsafeRawBufferPointer(buffer)
        let size = Int(view.loadLittleEndian(at: start + 9, width: 4))
        guard size >= EventHeader.length else {
            throw BinlogError(.corrupt, "inner event size \(size) is smaller than its header", offset: baseOffset + input.pos)
        }
        guard size <= 1 << 30 else {
            throw BinlogError(.corrupt, "inner event claims \(size) bytes", offset: baseOffset + input.pos)
        }
        try fill(atLeast: size)
        guard end - start >= size else {
            throw BinlogError(.truncated, "payload ends inside an event of \(size) bytes", offset: baseOffset + input.pos)
        }
        defer { start += size }
        return UnsafeRawBufferPointer(rebasing: view[start..<(start + size)])
    }

    /// Decompresses until `count` bytes are buffered or the stream ends.
    private func fill(atLeast count: Int) throws(BinlogError) {
        guard end - start < count else { return }
        // Move what is left to the front and grow the window if one event needs more room.
        if start > 0 {
            if end > start {
                buffer.baseAddress!.copyMemory(from: buffer.baseAddress! + start, byteCount: end - start)
            }
            end -= start
            start = 0
        }
        if buffer.count < count {
            let bigger = UnsafeMutableRawBufferPointer.allocate(byteCount: Swift.max(count, buffer.count * 2), alignment: 16)
            if end > 0 { bigger.baseAddress!.copyMemory(from: buffer.baseAddress!, byteCount: end) }
            buffer.deallocate()
            buffer = bigger
        }
        while end < count && !finished {
            var output = ZSTD_outBuffer(dst: buffer.baseAddress! + end, size: buffer.count - end, pos: 0)
            let before = input.pos
            let result = ZSTD_decompressStream(stream, &output, &input)
            if ZSTD_isError(result) != 0 {
                let name = String(cString: ZSTD_getErrorName(result))
                throw BinlogError(.corrupt, "zstd: \(name)", offset: baseOffset + input.pos)
            }
            end += output.pos
            if result == 0 && input.pos == input.size { finished = true }
            if output.pos == 0 && input.pos == before {
                // No progress: the input is exhausted (a truncated frame) or the frame ended.
                finished = true
                if result != 0 {
                    throw BinlogError(.truncated, "zstd frame ends early", offset: baseOffset + input.pos)
                }
            }
        }
    }
}
