import GatehouseCore
import NIOCore

/// Field names of the answers, shared by the RESP replies, the HTTP JSON and the client.
public enum AnswerField {
    public static let verify = [
        "valid", "code", "key_id", "owner", "scopes", "meta", "limit", "remaining", "reset_ms", "retry_after_ms",
        "credits_remaining",
    ]
    /// The request's id in a VERIFY reply, after the answer's fields (`VerifyReplyFields`).
    public static let requestID = "request_id"
    /// `evicted` came last and is read as `false` when absent, so clients that read fields
    /// by name work with servers on either side of it.
    public static let throttle = ["allowed", "limit", "remaining", "reset_ms", "retry_after_ms", "evicted"]
}

extension ByteBuffer {
    /// A verify answer: a map after `HELLO 3`, a flat field/value array before; only the
    /// `fields` asked for (`VERIFY … FIELDS`), in the order of `AnswerField.verify`; then
    /// `request_id` when `requestID` is given (the caller has applied `VerifyReplyFields`' rule).
    ///
    /// The header and field names are constant bytes written as they are (no length to
    /// count or format), and the whole reply goes into one reservation: a reply is mostly
    /// field names, and this is the hot path.
    public mutating func writeVerifyAnswer(
        _ answer: VerifyAnswer, _ version: RESPVersion, fields: VerifyReplyFields = .all, requestID: String? = nil
    ) {
        let reserved = answer.maxRESPBytes(fields) + (requestID.map { $0.utf8.count + 16 + RESPReplyCursor.bulkOverhead } ?? 0)
        writeRESPReply(reserving: reserved) { out in
            if fields == .all && requestID == nil {
                switch version {
                case .v2: out.write("*22\r\n")
                case .v3: out.write("%11\r\n")
                }
            } else {
                out.writeMapHeader(count: fields.count + (requestID == nil ? 0 : 1), version)
            }
            if fields.contains(.valid) {
                out.write("$5\r\nvalid\r\n")
                out.writeBoolean(answer.valid, version)
            }
            if fields.contains(.code) {
                out.write("$4\r\ncode\r\n")
                out.write(answer.code.respBulkString)
            }
            if fields.contains(.keyID) {
                out.write("$6\r\nkey_id\r\n")
                out.writeOptionalBulkString(answer.keyID, version)
            }
            if fields.contains(.owner) {
                out.write("$5\r\nowner\r\n")
                out.writeOptionalBulkString(answer.owner, version)
            }
            if fields.contains(.scopes) {
                out.write("$6\r\nscopes\r\n")
                out.writeArrayHeader(count: answer.scopes.count)
                for scope in answer.scopes { out.writeBulkString(scope) }
            }
            if fields.contains(.meta) {
                out.write("$4\r\nmeta\r\n")
                out.writeMapHeader(count: answer.meta.count, version)
                if !answer.meta.isEmpty {
                    for (key, value) in answer.meta.sorted(by: { $0.key < $1.key }) {
                        out.writeBulkString(key)
                        out.writeBulkString(value)
                    }
                }
            }
            if fields.contains(.limit) {
                out.write("$5\r\nlimit\r\n")
                out.writeOptionalInteger(answer.limit, version)
            }
            if fields.contains(.remaining) {
                out.write("$9\r\nremaining\r\n")
                out.writeOptionalInteger(answer.remaining, version)
            }
            if fields.contains(.resetMs) {
                out.write("$8\r\nreset_ms\r\n")
                out.writeOptionalInteger(answer.resetMs, version)
            }
            if fields.contains(.retryAfterMs) {
                out.write("$14\r\nretry_after_ms\r\n")
                out.writeOptionalInteger(answer.retryAfterMs, version)
            }
            if fields.contains(.creditsRemaining) {
                out.write("$17\r\ncredits_remaining\r\n")
                out.writeOptionalInteger(answer.creditsRemaining, version)
            }
            if let requestID {
                out.write("$10\r\nrequest_id\r\n")
                out.writeBulkString(requestID)
            }
        }
    }

    public mutating func writeThrottleAnswer(_ answer: ThrottleAnswer, _ version: RESPVersion) {
        writeRESPReply(reserving: 192 + 4 * RESPReplyCursor.maxIntegerBytes) { out in
            out.writeMapHeader(count: AnswerField.throttle.count, version)
            out.write("$7\r\nallowed\r\n")
            out.writeBoolean(answer.allowed, version)
            out.write("$5\r\nlimit\r\n")
            out.writeInteger(answer.limit)
            out.write("$9\r\nremaining\r\n")
            out.writeInteger(answer.remaining)
            out.write("$8\r\nreset_ms\r\n")
            out.writeInteger(answer.resetMs)
            out.write("$14\r\nretry_after_ms\r\n")
            out.writeInteger(answer.retryAfterMs)
            out.write("$7\r\nevicted\r\n")
            out.writeBoolean(answer.evicted, version)
        }
    }
}

extension VerifyAnswer {
    /// An upper bound on the bytes of this answer as a RESP reply of `fields` (either version).
    func maxRESPBytes(_ fields: VerifyReplyFields) -> Int {
        // Header, field names, code and booleans: under 256 bytes; then five integers.
        var total = 256 + 5 * RESPReplyCursor.maxIntegerBytes
        if fields.contains(.keyID) { total += (keyID?.utf8.count ?? 0) + RESPReplyCursor.bulkOverhead }
        if fields.contains(.owner) { total += (owner?.utf8.count ?? 0) + RESPReplyCursor.bulkOverhead }
        if fields.contains(.scopes) {
            total += RESPReplyCursor.maxIntegerBytes
            for scope in scopes { total += scope.utf8.count + RESPReplyCursor.bulkOverhead }
        }
        if fields.contains(.meta) {
            total += RESPReplyCursor.maxIntegerBytes
            for (key, value) in meta { total += key.utf8.count + value.utf8.count + 2 * RESPReplyCursor.bulkOverhead }
        }
        return total
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
            let retry = fields["retry_after_ms"]?.integer, let allowed = fields["allowed"]?.flag
        else { return nil }
        let evicted = fields["evicted"]?.flag ?? false
        self.init(SlidingWindow.Check(allowed: allowed, limit: limit, remaining: remaining, resetMs: reset, retryAfterMs: retry), evicted: evicted)
    }
}
