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
    public mutating func writeVerifyAnswer(_ answer: VerifyAnswer, _ version: RESPVersion) {
        writeRESPMapHeader(count: AnswerField.verify.count, version)
        writeRESPBulkString("valid")
        writeRESPBoolean(answer.valid, version)
        writeRESPBulkString("code")
        writeRESPBulkString(answer.code.rawValue)
        writeRESPBulkString("key_id")
        writeRESPOptionalBulkString(answer.keyID, version)
        writeRESPBulkString("owner")
        writeRESPOptionalBulkString(answer.owner, version)
        writeRESPBulkString("scopes")
        writeRESPArrayHeader(count: answer.scopes.count)
        for scope in answer.scopes { writeRESPBulkString(scope) }
        writeRESPBulkString("meta")
        writeRESPMapHeader(count: answer.meta.count, version)
        for (key, value) in answer.meta.sorted(by: { $0.key < $1.key }) {
            writeRESPBulkString(key)
            writeRESPBulkString(value)
        }
        writeRESPBulkString("limit")
        writeRESPOptionalInteger(answer.limit, version)
        writeRESPBulkString("remaining")
        writeRESPOptionalInteger(answer.remaining, version)
        writeRESPBulkString("reset_ms")
        writeRESPOptionalInteger(answer.resetMs, version)
        writeRESPBulkString("retry_after_ms")
        writeRESPOptionalInteger(answer.retryAfterMs, version)
        writeRESPBulkString("credits_remaining")
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
