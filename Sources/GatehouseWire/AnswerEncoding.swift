import GatehouseCore
import NIOCore

/// Field names of the answers, shared by the RESP replies, the HTTP JSON and the client.
public enum AnswerField {
    public static let verify = [
        "valid", "code", "key_id", "owner", "scopes", "meta", "limit", "remaining", "reset_ms", "retry_after_ms",
        "credits_remaining",
    ]
    public static let throttle = ["allowed", "limit", "remaining", "reset_ms", "retry_after_ms"]
}

extension ByteBuffer {
    /// A verify answer: a map after `HELLO 3`, a flat field/value array before.
    ///
    /// The header and field names are constant bytes written as they are (no length to
    /// count or format): a reply is mostly field names, and this is the hot path.
    public mutating func writeVerifyAnswer(_ answer: VerifyAnswer, _ version: RESPVersion) {
        switch version {
        case .v2: writeStaticString("*22\r\n$5\r\nvalid\r\n")
        case .v3: writeStaticString("%11\r\n$5\r\nvalid\r\n")
        }
        writeRESPBoolean(answer.valid, version)
        writeStaticString("$4\r\ncode\r\n")
        writeStaticString(answer.code.respBulkString)
        writeStaticString("$6\r\nkey_id\r\n")
        writeRESPOptionalBulkString(answer.keyID, version)
        writeStaticString("$5\r\nowner\r\n")
        writeRESPOptionalBulkString(answer.owner, version)
        writeStaticString("$6\r\nscopes\r\n")
        writeRESPArrayHeader(count: answer.scopes.count)
        for scope in answer.scopes { writeRESPBulkString(scope) }
        writeStaticString("$4\r\nmeta\r\n")
        writeRESPMapHeader(count: answer.meta.count, version)
        if !answer.meta.isEmpty {
            for (key, value) in answer.meta.sorted(by: { $0.key < $1.key }) {
                writeRESPBulkString(key)
                writeRESPBulkString(value)
            }
        }
        writeStaticString("$5\r\nlimit\r\n")
        writeRESPOptionalInteger(answer.limit, version)
        writeStaticString("$9\r\nremaining\r\n")
        writeRESPOptionalInteger(answer.remaining, version)
        writeStaticString("$8\r\nreset_ms\r\n")
        writeRESPOptionalInteger(answer.resetMs, version)
        writeStaticString("$14\r\nretry_after_ms\r\n")
        writeRESPOptionalInteger(answer.retryAfterMs, version)
        writeStaticString("$17\r\ncredits_remaining\r\n")
        writeRESPOptionalInteger(answer.creditsRemaining, version)
    }

    public mutating func writeThrottleAnswer(_ answer: ThrottleAnswer, _ version: RESPVersion) {
        writeRESPMapHeader(count: AnswerField.throttle.count, version)
        writeRESPBulkString("allowed")
        writeRESPBoolean(answer.allowed, version)
        writeRESPBulkString("limit")
        writeRESPInteger(answer.limit)
        writeRESPBulkString("remaining")
        writeRESPInteger(answer.remaining)
        writeRESPBulkString("reset_ms")
        writeRESPInteger(answer.resetMs)
        writeRESPBulkString("retry_after_ms")
        writeRESPInteger(answer.retryAfterMs)
    }
}

extension VerifyCode {
    /// The code as a RESP bulk string, ready to copy into a reply.
    var respBulkString: StaticString {
        switch self {
        case .valid: "$5\r\nVALID\r\n"
        case .malformed: "$9\r\nMALFORMED\r\n"
        case .sourceThrottled: "$16\r\nSOURCE_THROTTLED\r\n"
        case .notFound: "$9\r\nNOT_FOUND\r\n"
        case .revoked: "$7\r\nREVOKED\r\n"
        case .disabled: "$8\r\nDISABLED\r\n"
        case .expired: "$7\r\nEXPIRED\r\n"
        case .insufficientScope: "$18\r\nINSUFFICIENT_SCOPE\r\n"
        case .rateLimited: "$12\r\nRATE_LIMITED\r\n"
        case .usageExceeded: "$14\r\nUSAGE_EXCEEDED\r\n"
        }
    }
}

extension VerifyAnswer {
    /// Reads an answer back from a RESP2 flat array or a RESP3 map.
    public init?(resp value: RESPValue) {
        guard let fields = value.fields, let codeText = fields["code"]?.string,
            let code = VerifyCode(rawValue: codeText)
        else { return nil }
        self.init(code: code)
        keyID = fields["key_id"]?.string
        owner = fields["owner"]?.string
        if case .array(let scopes) = fields["scopes"] { self.scopes = scopes.compactMap(\.string) }
        if let meta = fields["meta"]?.fields { self.meta = meta.compactMapValues(\.string) }
        limit = fields["limit"]?.integer
        remaining = fields["remaining"]?.integer
        resetMs = fields["reset_ms"]?.integer
        retryAfterMs = fields["retry_after_ms"]?.integer
        creditsRemaining = fields["credits_remaining"]?.integer
    }
}

extension ThrottleAnswer {
    public init?(resp value: RESPValue) {
        guard let fields = value.fields, let limit = fields["limit"]?.integer,
            let remaining = fields["remaining"]?.integer, let reset = fields["reset_ms"]?.integer,
            let retry = fields["retry_after_ms"]?.integer
        else { return nil }
        let allowed: Bool
        switch fields["allowed"] {
        case .boolean(let value): allowed = value
        case .integer(let value): allowed = value != 0
        default: return nil
        }
        self.init(SlidingWindow.Check(allowed: allowed, limit: limit, remaining: remaining, resetMs: reset, retryAfterMs: retry))
    }
}
