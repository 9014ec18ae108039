import NIOCore

/// How one reply was judged: the server said yes, said no, or answered with an error.
enum ReplyOutcome: Sendable {
    /// VERIFY `valid` 1, THROTTLE `allowed` 1, the Lua check's 1, a GET hit, HTTP 2xx.
    case accepted
    /// A well-formed refusal: VERIFY/THROTTLE/Lua 0, a GET miss, HTTP 401/403/429.
    case refused
    /// A RESP error reply or any other HTTP status.
    case error
}

/// A reply stream that does not frame: the load stops and says so.
struct ReplyFramingError: Error, CustomStringConvertible {
    var description: String
}

/// Finds where each reply ends in the bytes a server sent, without building values:
/// the load generator only needs to count replies, time them and tell yes from no.
enum ReplyFramer: Sendable {
    case resp
    case http

    /// The length of the first whole reply in `buffer` and its outcome; `nil` when more bytes are needed.
    func frame(_ buffer: ByteBuffer) throws(ReplyFramingError) -> (length: Int, outcome: ReplyOutcome)? {
        switch self {
        case .resp: return try Self.frameRESP(buffer)
        case .http: return try Self.frameHTTP(buffer)
        }
    }

    // MARK: RESP

    private static func frameRESP(_ buffer: ByteBuffer) throws(ReplyFramingError) -> (length: Int, outcome: ReplyOutcome)? {
        let start = buffer.readerIndex
        guard let end = try respValueEnd(buffer, at: start, depth: 0) else { return nil }
        return (end - start, respOutcome(buffer, start: start, end: end))
    }

    /// Where the value starting at `index` ends (exclusive).
    private static func respValueEnd(_ buffer: ByteBuffer, at index: Int, depth: Int) throws(ReplyFramingError) -> Int? {
        guard depth < 8 else { throw ReplyFramingError(description: "RESP reply nested too deep") }
        guard let marker = buffer.getInteger(at: index, as: UInt8.self) else { return nil }
        guard let (number, lineEnd) = try line(buffer, from: index + 1) else { return nil }
        switch marker {
        case UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: ":"), UInt8(ascii: "_"), UInt8(ascii: "#"),
            UInt8(ascii: ","), UInt8(ascii: "("):
            return lineEnd
        case UInt8(ascii: "$"), UInt8(ascii: "!"), UInt8(ascii: "="):
            guard let length = number else { throw ReplyFramingError(description: "RESP bulk length is not a number") }
            if length < 0 { return lineEnd }
            let end = lineEnd + length + 2
            return buffer.writerIndex >= end ? end : nil
        case UInt8(ascii: "*"), UInt8(ascii: "~"), UInt8(ascii: ">"), UInt8(ascii: "%"), UInt8(ascii: "|"):
            guard let count = number else { throw ReplyFramingError(description: "RESP aggregate count is not a number") }
            if count < 0 { return lineEnd }
            let elements = (marker == UInt8(ascii: "%") || marker == UInt8(ascii: "|")) ? count * 2 : count
            var cursor = lineEnd
            for _ in 0..<elements {
                guard let next = try respValueEnd(buffer, at: cursor, depth: depth + 1) else { return nil }
                cursor = next
            }
            return cursor
        default:
            throw ReplyFramingError(description: "unexpected RESP type byte \(marker)")
        }
    }

    /// The line from `index` to CRLF: its value as a number when it is one, and where the next line starts.
    private static func line(_ buffer: ByteBuffer, from index: Int) throws(ReplyFramingError) -> (Int?, Int)? {
        var cursor = index
        var value = 0
        var negative = false
        var numeric = true
        while true {
            guard let byte = buffer.getInteger(at: cursor, as: UInt8.self) else { return nil }
            if byte == UInt8(ascii: "\r") {
                guard let next = buffer.getInteger(at: cursor + 1, as: UInt8.self) else { return nil }
                guard next == UInt8(ascii: "\n") else { throw ReplyFramingError(description: "RESP line without LF") }
                return (numeric && cursor > index ? (negative ? -value : value) : nil, cursor + 2)
            }
            if byte == UInt8(ascii: "-") && cursor == index {
                negative = true
            } else if byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") && value < 1 << 40 {
                value = value * 10 + Int(byte - UInt8(ascii: "0"))
            } else {
                numeric = false
            }
            cursor += 1
            guard cursor - index < 1 << 20 else { throw ReplyFramingError(description: "RESP line over 1 MiB") }
        }
    }

    /// Errors are errors; an aggregate is judged by its first integer or boolean (VERIFY's
    /// `valid`, THROTTLE's `allowed`, the Lua check's verdict); a bulk string is a GET hit.
    private static func respOutcome(_ buffer: ByteBuffer, start: Int, end: Int) -> ReplyOutcome {
        guard let marker = buffer.getInteger(at: start, as: UInt8.self) else { return .error }
        switch marker {
        case UInt8(ascii: "-"), UInt8(ascii: "!"):
            return .error
        case UInt8(ascii: "$"):
            return buffer.getInteger(at: start + 1, as: UInt8.self) == UInt8(ascii: "-") ? .refused : .accepted
        case UInt8(ascii: "_"):
            return .refused
        default:
            var cursor = start
            while cursor + 2 < end {
                if buffer.getInteger(at: cursor, as: UInt8.self) == UInt8(ascii: "\n") {
                    let type = buffer.getInteger(at: cursor + 1, as: UInt8.self)
                    let value = buffer.getInteger(at: cursor + 2, as: UInt8.self)
                    if type == UInt8(ascii: ":") { return value == UInt8(ascii: "0") ? .refused : .accepted }
                    if type == UInt8(ascii: "#") { return value == UInt8(ascii: "t") ? .accepted : .refused }
                }
                cursor += 1
            }
            if marker == UInt8(ascii: ":") { return buffer.getInteger(at: start + 1, as: UInt8.self) == UInt8(ascii: "0") ? .refused : .accepted }
            return .accepted
        }
    }

    // MARK: HTTP/1.1

    private static let headerEnd: [UInt8] = Array("\r\n\r\n".utf8)
    private static let contentLength: [UInt8] = Array("content-length:".utf8)
    private static let validFalse: [UInt8] = Array(#""valid":false"#.utf8)
    static let maxHeaderBytes = 64 * 1024

    private static func frameHTTP(_ buffer: ByteBuffer) throws(ReplyFramingError) -> (length: Int, outcome: ReplyOutcome)? {
        let view = buffer.readableBytesView
        guard let headerStop = find(headerEnd, in: view) else {
            if view.count > maxHeaderBytes { throw ReplyFramingError(description: "HTTP response header over 64 KiB") }
            return nil
        }
        let head = view[view.startIndex..<headerStop]
        // "HTTP/1.1 200 ..."
        guard head.count >= 12, head.starts(with: "HTTP/1.".utf8) else {
            throw ReplyFramingError(description: "not an HTTP/1.x response")
        }
        var status = 0
        for byte in head.dropFirst(9).prefix(3) {
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { throw ReplyFramingError(description: "bad HTTP status") }
            status = status * 10 + Int(byte - UInt8(ascii: "0"))
        }
        var bodyLength = 0
        if let found = findIgnoringCase(contentLength, in: head) {
            var cursor = found + contentLength.count
            while cursor < head.endIndex, head[cursor] == UInt8(ascii: " ") { cursor += 1 }
            while cursor < head.endIndex, head[cursor] >= UInt8(ascii: "0"), head[cursor] <= UInt8(ascii: "9") {
                bodyLength = bodyLength * 10 + Int(head[cursor] - UInt8(ascii: "0"))
                cursor += 1
                guard bodyLength < 1 << 26 else { throw ReplyFramingError(description: "HTTP body too large") }
            }
        } else if status != 204 && status != 304 {
            throw ReplyFramingError(description: "HTTP response without Content-Length (chunked bodies are not supported)")
        }
        let total = headerStop + headerEnd.count - view.startIndex + bodyLength
        guard view.count >= total else { return nil }
        let outcome: ReplyOutcome
        switch status {
        case 200..<300:
            // `POST /v1/verify` answers 200 with `"valid": false` for a refused key.
            let body = view[(headerStop + headerEnd.count)..<(view.startIndex + total)]
            outcome = findIgnoringCase(validFalse, in: body) == nil ? .accepted : .refused
        case 401, 403, 429: outcome = .refused
        default: outcome = .error
        }
        return (total, outcome)
    }

    private static func find(_ needle: [UInt8], in view: ByteBufferView) -> Int? {
        guard view.count >= needle.count else { return nil }
        var index = view.startIndex
        while index <= view.endIndex - needle.count {
            if view[index] == needle[0] {
                var matched = true
                for offset in 1..<needle.count where view[index + offset] != needle[offset] {
                    matched = false
                    break
                }
                if matched { return index }
            }
            index += 1
        }
        return nil
    }

    private static func findIgnoringCase(_ needle: [UInt8], in view: ByteBufferView.SubSequence) -> Int? {
        guard view.count >= needle.count else { return nil }
        var index = view.startIndex
        while index <= view.endIndex - needle.count {
            var matched = true
            for offset in 0..<needle.count {
                var byte = view[index + offset]
                if byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") { byte += 32 }
                if byte != needle[offset] {
                    matched = false
                    break
                }
            }
            if matched { return index }
            index += 1
        }
        return nil
    }
}
