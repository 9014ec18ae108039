/// The id that ties one request's logs, answer and audit entries together: the caller's
/// `X-Request-Id` when it is usable (1–128 visible ASCII characters), otherwise a new one.
public struct RequestID: Hashable, Sendable, CustomStringConvertible {
    public let value: String

    public static let maxBytes = 128

    /// The caller's id, or nil when it is empty, too long or holds anything but visible ASCII
    /// (such an id is replaced, never cut or escaped, so logs and entries hold only what was sent).
    public init?(validating given: String) {
        let bytes = given.utf8
        guard !bytes.isEmpty, bytes.count <= Self.maxBytes, bytes.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else { return nil }
        value = given
    }

    /// A new random id: 16 hex digits.
    public static func generate() -> RequestID {
        let digits = String(UInt64.random(in: 0...UInt64.max), radix: 16)
        return RequestID(unchecked: String(repeating: "0", count: 16 - digits.count) + digits)
    }

    /// The caller's id when valid, else a new one.
    public static func from(header: String?) -> RequestID {
        header.flatMap(RequestID.init(validating:)) ?? generate()
    }

    private init(unchecked value: String) {
        self.value = value
    }

    public var description: String { value }
}
