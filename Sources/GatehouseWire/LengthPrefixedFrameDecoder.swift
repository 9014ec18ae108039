import NIOCore

/// Splits a TCP stream into frames of `[u32 length][bytes]`, refusing any frame longer than
/// `maxFrameBytes` as soon as its length is read (so a peer cannot make us buffer more).
public struct LengthPrefixedFrameDecoder: ByteToMessageDecoder {
    public typealias InboundOut = ByteBuffer
    public let maxFrameBytes: Int

    public struct FrameTooLarge: Error, Hashable, Sendable {
        public var length: Int
    }

    public init(maxFrameBytes: Int) {
        self.maxFrameBytes = maxFrameBytes
    }

    public mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let frame = try Self.nextFrame(&buffer, maxFrameBytes: maxFrameBytes) else { return .needMoreData }
        context.fireChannelRead(wrapInboundOut(frame))
        return .continue
    }

    /// The next whole frame at the front of `buffer`, or `nil` (nothing consumed) if incomplete.
    public static func nextFrame(_ buffer: inout ByteBuffer, maxFrameBytes: Int) throws(FrameTooLarge) -> ByteBuffer? {
        guard let length = buffer.getInteger(at: buffer.readerIndex, as: UInt32.self) else { return nil }
        guard Int(length) <= maxFrameBytes else { throw FrameTooLarge(length: Int(length)) }
        guard buffer.readableBytes >= 4 + Int(length) else { return nil }
        buffer.moveReaderIndex(forwardBy: 4)
        return buffer.readSlice(length: Int(length))
    }
}

extension ByteBuffer {
    /// Writes `bytes` as one length-prefixed frame.
    public mutating func writeLengthPrefixedFrame(_ bytes: some Collection<UInt8>) {
        writeInteger(UInt32(bytes.count))
        writeBytes(bytes)
    }
}
