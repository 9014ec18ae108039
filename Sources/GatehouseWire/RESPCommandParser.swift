import NIOCore

/// One client command: its arguments as slices of the receive buffer (no copies).
///
/// Convenient, and allocates an array per command; the server's hot path parses into
/// reused `RESPArgumentRanges` instead (`RESPCommandParser.parse(_:into:)`).
public struct RESPCommand: Sendable {
    public var arguments: [ByteBuffer]

    public init(arguments: [ByteBuffer]) {
        self.arguments = arguments
    }

    /// The command name's bytes; empty for an empty command.
    public var name: ByteBuffer? { arguments.first }
}

/// Parses RESP requests — arrays of bulk strings, as every Redis client sends them, and
/// inline space-separated lines, as telnet users type them.
///
/// Incremental: `parse` returns `nil` without consuming anything until a whole command is
/// buffered. Every length is checked against `RESPLimits` as soon as it is read, so a
/// hostile peer cannot make the server buffer more than `maxFrameBytes` for one command.
public struct RESPCommandParser: Sendable {
    public let limits: RESPLimits
    /// Longest `*<n>\r\n` / `$<n>\r\n` header line we accept: a sign, 19 digits and CRLF.
    static let maxHeaderBytes = 22

    public init(limits: RESPLimits = .default) {
        self.limits = limits
    }

    /// Parses one command from the front of `buffer`, moving its reader index past it;
    /// `nil` when more bytes are needed.
    public func parse(_ buffer: inout ByteBuffer) throws(RESPProtocolError) -> RESPCommand? {
        let unparsed = buffer
        var ranges = RESPArgumentRanges()
        guard try parse(&buffer, into: &ranges) else { return nil }
        let command = RESPCommandView(buffer: unparsed, ranges: ranges)
        return RESPCommand(arguments: (0..<command.count).map { command.argument($0) })
    }

    /// Parses one command from the front of `buffer` into `arguments` (the positions of its
    /// arguments in `buffer`, valid until its bytes are discarded; read them through a
    /// `RESPCommandView` of `buffer` as it was before this call), moving the reader index
    /// past it. Returns `false`, consuming nothing, when more bytes are needed.
    ///
    /// Nothing is allocated once `arguments` has grown to the longest command seen.
    public func parse(_ buffer: inout ByteBuffer, into arguments: inout RESPArgumentRanges) throws(RESPProtocolError) -> Bool {
        arguments.removeAll()
        guard let first = buffer.getInteger(at: buffer.readerIndex, as: UInt8.self) else { return false }
        if first == UInt8(ascii: "*") {
            return try parseArray(&buffer, into: &arguments)
        }
        return try parseInline(&buffer, into: &arguments)
    }

    private func parseArray(_ buffer: inout ByteBuffer, into arguments: inout RESPArgumentRanges) throws(RESPProtocolError) -> Bool {
        var cursor = buffer.readerIndex + 1
        guard let count = try readHeaderNumber(buffer, at: &cursor) else {
            return false
        }
        guard count >= 0 else {
            // `*-1` is a null array: nothing to do, skip it.
            buffer.moveReaderIndex(to: cursor)
            return true
        }
        guard count <= limits.maxArguments else {
            throw RESPProtocolError(.tooLarge, "command has \(count) arguments; the limit is \(limits.maxArguments)")
        }
        for _ in 0..<count {
            guard let marker = buffer.getInteger(at: cursor, as: UInt8.self) else { return false }
            guard marker == UInt8(ascii: "$") else {
                throw RESPProtocolError(.malformed, "expected '$', got byte \(marker)")
            }
            cursor += 1
            guard let length = try readHeaderNumber(buffer, at: &cursor) else { return false }
            guard length >= 0 else {
                throw RESPProtocolError(.malformed, "null bulk string in a command")
            }
            guard length <= limits.maxBulkBytes else {
                throw RESPProtocolError(.tooLarge, "argument of \(length) bytes; the limit is \(limits.maxBulkBytes)")
            }
            let end = cursor + Int(length)
            guard end + 2 - buffer.readerIndex <= limits.maxFrameBytes else {
                throw RESPProtocolError(.tooLarge, "command over \(limits.maxFrameBytes) bytes")
            }
            guard buffer.writerIndex >= end + 2 else { return false }
            guard buffer.getInteger(at: end, as: UInt16.self) == 0x0D0A else {
                throw RESPProtocolError(.malformed, "bulk string not terminated by CRLF")
            }
            arguments.append(cursor..<end)
            cursor = end + 2
        }
        buffer.moveReaderIndex(to: cursor)
        return true
    }

    /// Reads the decimal number of a `*` or `$` header ending in CRLF, starting at `cursor`.
    private func readHeaderNumber(_ buffer: ByteBuffer, at cursor: inout Int) throws(RESPProtocolError) -> Int64? {
        var value: Int64 = 0
        var negative = false
        var digits = 0
        var position = cursor
        while true {
            guard position - cursor < Self.maxHeaderBytes else {
                throw RESPProtocolError(.malformed, "length header too long")
            }
            guard let byte = buffer.getInteger(at: position, as: UInt8.self) else { return nil }
            switch byte {
            case UInt8(ascii: "-") where position == cursor:
                negative = true
            case UInt8(ascii: "0")...UInt8(ascii: "9"):
                let (times, overflow1) = value.multipliedReportingOverflow(by: 10)
                let (sum, overflow2) = times.addingReportingOverflow(Int64(byte - UInt8(ascii: "0")))
                guard !overflow1, !overflow2 else { throw RESPProtocolError(.malformed, "length out of range") }
                value = sum
                digits += 1
            case UInt8(ascii: "\r"):
                guard let next = buffer.getInteger(at: position + 1, as: UInt8.self) else { return nil }
                guard next == UInt8(ascii: "\n"), digits > 0 else {
                    throw RESPProtocolError(.malformed, "invalid length header")
                }
                cursor = position + 2
                return negative ? -value : value
            default:
                throw RESPProtocolError(.malformed, "invalid length header")
            }
            position += 1
        }
    }

    private var tooManyInlineArguments: RESPProtocolError {
        RESPProtocolError(.tooLarge, "command has more than \(limits.maxArguments) arguments")
    }

    private func parseInline(_ buffer: inout ByteBuffer, into arguments: inout RESPArgumentRanges) throws(RESPProtocolError) -> Bool {
        let view = buffer.readableBytesView
        // Room for the longest allowed line plus its CR LF.
        let scanLimit = min(view.count, limits.maxInlineBytes + 2)
        guard let newline = view.prefix(scanLimit).firstIndex(of: UInt8(ascii: "\n")) else {
            // Past the limit only a final CR (of a CR LF still to come) may be pending.
            let pendingCR = view.count == limits.maxInlineBytes + 1 && view.last == UInt8(ascii: "\r")
            if view.count > limits.maxInlineBytes && !pendingCR {
                throw RESPProtocolError(.tooLarge, "inline command over \(limits.maxInlineBytes) bytes")
            }
            return false
        }
        var lineEnd = newline
        if lineEnd > view.startIndex, view[lineEnd - 1] == UInt8(ascii: "\r") { lineEnd -= 1 }
        guard lineEnd - view.startIndex <= limits.maxInlineBytes else {
            throw RESPProtocolError(.tooLarge, "inline command over \(limits.maxInlineBytes) bytes")
        }
        var start: Int? = nil
        for index in view.startIndex..<lineEnd {
            let byte = view[index]
            if byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") {
                if let wordStart = start {
                    guard arguments.count < limits.maxArguments else { throw tooManyInlineArguments }
                    arguments.append(wordStart..<index)
                    start = nil
                }
            } else if start == nil {
                start = index
            }
        }
        if let wordStart = start {
            guard arguments.count < limits.maxArguments else { throw tooManyInlineArguments }
            arguments.append(wordStart..<lineEnd)
        }
        buffer.moveReaderIndex(to: newline + 1)
        return true
    }
}

/// `ByteToMessageDecoder` adapter around `RESPCommandParser`.
public struct RESPCommandDecoder: ByteToMessageDecoder {
    public typealias InboundOut = RESPCommand
    public let parser: RESPCommandParser

    public init(limits: RESPLimits = .default) {
        parser = RESPCommandParser(limits: limits)
    }

    public mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let command = try parser.parse(&buffer) else { return .needMoreData }
        context.fireChannelRead(wrapInboundOut(command))
        return .continue
    }

    /// The message of the error raised when a peer hangs up in the middle of a command.
    public static let truncatedMessage = "connection closed in the middle of a command"

    public mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        while try decode(context: context, buffer: &buffer) == .continue {}
        if buffer.readableBytes > 0 {
            buffer.moveReaderIndex(forwardBy: buffer.readableBytes)
            throw RESPProtocolError(.malformed, Self.truncatedMessage)
        }
        return .needMoreData
    }
}
