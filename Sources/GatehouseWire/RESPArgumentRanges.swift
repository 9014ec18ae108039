import NIOCore

/// Where each argument of one command lies in the receive buffer (absolute indices).
///
/// A connection keeps one and reuses it for every command, so parsing allocates nothing
/// after the first few commands; reading an argument needs the buffer it was parsed from
/// (see `RESPCommandView`).
public struct RESPArgumentRanges: Sendable, RandomAccessCollection {
    private var ranges: [Range<Int>] = []

    public init() {}

    public var startIndex: Int { ranges.startIndex }
    public var endIndex: Int { ranges.endIndex }
    public subscript(position: Int) -> Range<Int> { ranges[position] }

    mutating func append(_ range: Range<Int>) {
        ranges.append(range)
    }

    mutating func removeAll() {
        ranges.removeAll(keepingCapacity: true)
    }
}

/// A parsed command read in place: the receive buffer as it was before the command was
/// parsed (its reader index at or before the command) and where its arguments lie.
public struct RESPCommandView: Sendable {
    public let buffer: ByteBuffer
    public let ranges: RESPArgumentRanges

    public init(buffer: ByteBuffer, ranges: RESPArgumentRanges) {
        self.buffer = buffer
        self.ranges = ranges
    }

    /// Builds a command from separate arguments (for tests and tools; the server parses).
    public init(arguments: [ByteBuffer]) {
        var buffer = ByteBuffer()
        var ranges = RESPArgumentRanges()
        for argument in arguments {
            let start = buffer.writerIndex
            buffer.writeImmutableBuffer(argument)
            ranges.append(start..<buffer.writerIndex)
        }
        self.init(buffer: buffer, ranges: ranges)
    }

    public var count: Int { ranges.count }

    /// Argument `index` as a slice of the receive buffer (no copy).
    public func argument(_ index: Int) -> ByteBuffer {
        buffer.getSlice(at: ranges[index].lowerBound, length: ranges[index].count)!
    }

    /// Runs `body` on the bytes of argument `index`.
    @inlinable
    public func withBytes<Result>(_ index: Int, _ body: (UnsafeRawBufferPointer) throws -> Result) rethrows -> Result {
        try buffer.withUnsafeReadableBytes { readable in
            let range = ranges[index]
            let offset = range.lowerBound - buffer.readerIndex
            return try body(UnsafeRawBufferPointer(rebasing: readable[offset..<offset + range.count]))
        }
    }

    /// The length of argument `index` in bytes.
    public func length(_ index: Int) -> Int { ranges[index].count }

    /// Whether argument `index` spells `text`, ignoring ASCII letter case.
    public func argument(_ index: Int, equalsIgnoringASCIICase text: StaticString) -> Bool {
        withBytes(index) { $0.equalsIgnoringASCIICase(text) }
    }

    /// Argument `index` as a non-negative decimal, or `nil`.
    public func decimalValue(_ index: Int) -> Int64? {
        withBytes(index) { $0.decimalValue() }
    }

    /// Argument `index` decoded as UTF-8 (invalid bytes repaired).
    public func string(_ index: Int) -> String {
        withBytes(index) { String(decoding: $0, as: UTF8.self) }
    }
}
