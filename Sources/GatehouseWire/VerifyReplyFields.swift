/// The fields a VERIFY reply carries: all of them unless the command names some with
/// `FIELDS name,name,…`.
///
/// `request_id` is apart from `all`: a reply without `FIELDS` carries it only when the
/// request has an id (`RID`, or one made for an event or access line), and a `FIELDS` list
/// that names it gets one either way (made when there is no `RID`), the same id the request's
/// lines and events hold. Making an id for every verify would cost the hot path; most
/// gateways pass their own.
///
/// A gateway that acts only on the verdict (`code`, perhaps `remaining` for a header) asks
/// for those; the reply is then a fifth of the full one's bytes and skips the strings and
/// integers it would not read. Fields are written in the order of `AnswerField.verify`,
/// whatever order they are named in.
public struct VerifyReplyFields: OptionSet, Sendable, Hashable {
    public let rawValue: UInt16

    public init(rawValue: UInt16) {
        self.rawValue = rawValue
    }

    public static let valid = Self(rawValue: 1 << 0)
    public static let code = Self(rawValue: 1 << 1)
    public static let keyID = Self(rawValue: 1 << 2)
    public static let owner = Self(rawValue: 1 << 3)
    public static let scopes = Self(rawValue: 1 << 4)
    public static let meta = Self(rawValue: 1 << 5)
    public static let limit = Self(rawValue: 1 << 6)
    public static let remaining = Self(rawValue: 1 << 7)
    public static let resetMs = Self(rawValue: 1 << 8)
    public static let retryAfterMs = Self(rawValue: 1 << 9)
    public static let creditsRemaining = Self(rawValue: 1 << 10)
    public static let requestID = Self(rawValue: 1 << 11)

    public static let all: Self = [
        .valid, .code, .keyID, .owner, .scopes, .meta, .limit, .remaining, .resetMs, .retryAfterMs, .creditsRemaining,
    ]

    /// The fields read from the key's record rather than decided: a reply without any of
    /// them lets the decision skip copying them (`VerifyRequest.includesRecord`).
    public static let record: Self = [.keyID, .owner, .scopes, .meta]

    /// How many fields of the answer the reply carries (`request_id` aside).
    public var count: Int { subtracting(.requestID).rawValue.nonzeroBitCount }

    /// Longest `FIELDS` value accepted: every name once, with commas, fits well within it.
    public static let maxListBytes = 160

    /// Each field with its name spelled in capitals, as compared with what a client sends
    /// (names are matched ignoring ASCII case); the same order as `AnswerField.verify`, then
    /// `request_id`.
    static let spellings: [(name: StaticString, field: Self)] = [
        ("VALID", .valid), ("CODE", .code), ("KEY_ID", .keyID), ("OWNER", .owner), ("SCOPES", .scopes),
        ("META", .meta), ("LIMIT", .limit), ("REMAINING", .remaining), ("RESET_MS", .resetMs),
        ("RETRY_AFTER_MS", .retryAfterMs), ("CREDITS_REMAINING", .creditsRemaining), ("REQUEST_ID", .requestID),
    ]

    /// The fields named by a comma-separated list such as `code,remaining` (no spaces).
    ///
    /// Refused with `WRONGARGS`: an empty list or an empty name, a name that is not a field,
    /// a name given twice; with `TOOLARGE`: a list over `maxListBytes`. The message never
    /// repeats what the client sent.
    public init(parsingList list: UnsafeRawBufferPointer) throws(CommandError) {
        guard list.count <= Self.maxListBytes else {
            throw CommandError(.tooLarge, "FIELDS takes at most \(Self.maxListBytes) bytes")
        }
        var chosen: Self = []
        var start = 0
        while true {
            var end = start
            while end < list.count, list[end] != UInt8(ascii: ",") { end += 1 }
            let name = UnsafeRawBufferPointer(rebasing: list[start..<end])
            guard let field = Self.spellings.first(where: { name.equalsIgnoringASCIICase($0.name) })?.field else {
                throw Self.unknownField
            }
            guard !chosen.contains(field) else {
                throw CommandError(.wrongArguments, "FIELDS names a field twice")
            }
            chosen.insert(field)
            guard end < list.count else { break }
            start = end + 1
        }
        self = chosen
    }

    private static var unknownField: CommandError {
        CommandError(.wrongArguments, "FIELDS takes a comma-separated list of \((AnswerField.verify + [AnswerField.requestID]).joined(separator: ", "))")
    }
}
