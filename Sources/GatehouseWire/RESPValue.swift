import NIOCore

/// A decoded RESP2/RESP3 reply, for clients and tests.
public indirect enum RESPValue: Hashable, Sendable {
    case simpleString(String)
    case error(String)
    case integer(Int64)
    case bulkString(String)
    case null
    case boolean(Bool)
    case double(Double)
    case array([RESPValue])
    case map([RESPPair])
    case set([RESPValue])
    /// An out-of-band push message (RESP3 `>`).
    case push([RESPValue])

    public struct RESPPair: Hashable, Sendable {
        public var key: RESPValue
        public var value: RESPValue
        public init(key: RESPValue, value: RESPValue) {
            self.key = key
            self.value = value
        }
    }

    /// Text of a string-like value.
    public var string: String? {
        switch self {
        case .simpleString(let text), .bulkString(let text): text
        default: nil
        }
    }

    public var integer: Int64? {
        if case .integer(let value) = self { return value }
        return nil
    }

    /// A flag as the replies write it: a RESP3 boolean, or a RESP2 integer (non-zero is true).
    public var flag: Bool? {
        switch self {
        case .boolean(let value): value
        case .integer(let value): value != 0
        default: nil
        }
    }

    /// Field/value pairs of a RESP3 map or of a RESP2 flat array with an even count.
    public var fields: [String: RESPValue]? {
        switch self {
        case .map(let pairs):
            var result: [String: RESPValue] = [:]
            for pair in pairs {
                guard let key = pair.key.string else { return nil }
                result[key] = pair.value
            }
            return result
        case .array(let items) where items.count % 2 == 0:
            var result: [String: RESPValue] = [:]
            var index = 0
            while index < items.count {
                guard let key = items[index].string else { return nil }
                result[key] = items[index + 1]
                index += 2
            }
            return result
        default:
            return nil
        }
    }
}

/// Parses RESP replies incrementally, with limits on depth, element counts and string sizes.
public struct RESPValueParser: Sendable {
    public var maxDepth = 8
    public var maxElements = 1 << 20
    public var maxStringBytes = 16 * 1024 * 1024

    public init() {}

    /// One reply from the front of `buffer`; `nil` (nothing consumed) when incomplete.
    public func parse(_ buffer: inout ByteBuffer) throws(RESPProtocolError) -> RESPValue? {
        var cursor = buffer.readerIndex
        guard let value = try parseValue(buffer, at: &cursor, depth: 0) else { return nil }
        buffer.moveReaderIndex(to: cursor)
        return value
    }

    private func readLine(_ buffer: ByteBuffer, at cursor: inout Int) throws(RESPProtocolError) -> String? {
        let view = buffer.readableBytesView
        let start = cursor
        guard start <= view.endIndex else { return nil }
        guard let newline = view[start...].firstIndex(of: UInt8(ascii: "\n")) else {
            if view.endIndex - start > maxStringBytes { throw RESPProtocolError(.tooLarge, "reply line too long") }
            return nil
        }
        guard newline > start, view[newline - 1] == UInt8(ascii: "\r") else {
            throw RESPProtocolError(.malformed, "line not terminated by CRLF")
        }
        cursor = newline + 1
        return buffer.getString(at: start, length: newline - 1 - start)
    }

    private func readCount(_ buffer: ByteBuffer, at cursor: inout Int) throws(RESPProtocolError) -> Int? {
        guard let line = try readLine(buffer, at: &cursor) else { return nil }
        guard let count = Int(line), count >= -1, count <= maxElements else {
            throw RESPProtocolError(.malformed, "invalid length \(line.prefix(24))")
        }
        return count
    }

    private func parseValue(_ buffer: ByteBuffer, at cursor: inout Int, depth: Int) throws(RESPProtocolError) -> RESPValue? {
        guard depth <= maxDepth else { throw RESPProtocolError(.tooLarge, "reply nested too deeply") }
        guard let marker = buffer.getInteger(at: cursor, as: UInt8.self) else { return nil }
        cursor += 1
        switch marker {
        case UInt8(ascii: "+"):
            return try readLine(buffer, at: &cursor).map(RESPValue.simpleString)
        case UInt8(ascii: "-"):
            return try readLine(buffer, at: &cursor).map(RESPValue.error)
        case UInt8(ascii: ":"):
            guard let line = try readLine(buffer, at: &cursor) else { return nil }
            guard let value = Int64(line) else { throw RESPProtocolError(.malformed, "invalid integer") }
            return .integer(value)
        case UInt8(ascii: ","):
            guard let line = try readLine(buffer, at: &cursor) else { return nil }
            guard let value = Double(line) else { throw RESPProtocolError(.malformed, "invalid double") }
            return .double(value)
        case UInt8(ascii: "#"):
            guard let line = try readLine(buffer, at: &cursor) else { return nil }
            guard line == "t" || line == "f" else { throw RESPProtocolError(.malformed, "invalid boolean") }
            return .boolean(line == "t")
        case UInt8(ascii: "_"):
            guard let line = try readLine(buffer, at: &cursor) else { return nil }
            guard line.isEmpty else { throw RESPProtocolError(.malformed, "invalid null") }
            return .null
        case UInt8(ascii: "$"), UInt8(ascii: "="), UInt8(ascii: "!"):
            guard let line = try readLine(buffer, at: &cursor) else { return nil }
            guard let length = Int(line), length >= -1 else { throw RESPProtocolError(.malformed, "invalid length \(line.prefix(24))") }
            if length == -1 { return .null }
            guard length <= maxStringBytes else { throw RESPProtocolError(.tooLarge, "reply string too long") }
            guard buffer.writerIndex >= cursor + length + 2 else { return nil }
            guard buffer.getInteger(at: cursor + length, as: UInt16.self) == 0x0D0A else {
                throw RESPProtocolError(.malformed, "bulk string not terminated by CRLF")
            }
            let text = buffer.getString(at: cursor, length: length) ?? ""
            cursor += length + 2
            return marker == UInt8(ascii: "!") ? .error(text) : .bulkString(text)
        case UInt8(ascii: "*"), UInt8(ascii: "~"), UInt8(ascii: ">"):
            guard let count = try readCount(buffer, at: &cursor) else { return nil }
            if count == -1 { return .null }
            var items: [RESPValue] = []
            for _ in 0..<count {
                guard let item = try parseValue(buffer, at: &cursor, depth: depth + 1) else { return nil }
                items.append(item)
            }
            switch marker {
            case UInt8(ascii: "~"): return .set(items)
            case UInt8(ascii: ">"): return .push(items)
            default: return .array(items)
            }
        case UInt8(ascii: "%"), UInt8(ascii: "|"):
            guard let count = try readCount(buffer, at: &cursor) else { return nil }
            guard count >= 0 else { throw RESPProtocolError(.malformed, "negative map length") }
            var pairs: [RESPValue.RESPPair] = []
            for _ in 0..<max(0, count) {
                guard let key = try parseValue(buffer, at: &cursor, depth: depth + 1),
                    let value = try parseValue(buffer, at: &cursor, depth: depth + 1)
                else { return nil }
                pairs.append(.init(key: key, value: value))
            }
            if marker == UInt8(ascii: "|") {
                // An attribute describes the reply that follows it; we return that reply. It
                // counts as a level, so a chain of attributes cannot recurse without limit.
                return try parseValue(buffer, at: &cursor, depth: depth + 1)
            }
            return .map(pairs)
        default:
            throw RESPProtocolError(.malformed, "unknown reply type byte \(marker)")
        }
    }
}
