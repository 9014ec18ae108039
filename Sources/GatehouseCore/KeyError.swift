/// Why a key operation was refused, with the field at fault and what to do about it.
///
/// `Code` is an open set (a struct, not an enum) so new reasons do not break callers that
/// switch over the ones they know.
public struct KeyError: Error, Hashable, Sendable, CustomStringConvertible {
    public struct Code: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        public var rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        /// A field is missing, malformed or out of range.
        public static let invalidField = Code(rawValue: "invalid_field")
        /// No key with that id.
        public static let notFound = Code(rawValue: "not_found")
        /// The thing to create exists already (an imported secret held by another key).
        public static let conflict = Code(rawValue: "conflict")
        /// The key is revoked; revoked keys cannot change.
        public static let revoked = Code(rawValue: "revoked")
    }

    public var code: Code
    /// The request field at fault (snake_case, as in the API), when there is one.
    public var field: String?
    /// What is wrong and how to fix it. Never contains a secret.
    public var message: String

    public init(_ code: Code, field: String? = nil, _ message: String) {
        self.code = code
        self.field = field
        self.message = message
    }

    public var description: String {
        field.map { "\(code) (\($0)): \(message)" } ?? "\(code): \(message)"
    }

    static func invalid(_ field: String, _ message: String) -> KeyError {
        KeyError(.invalidField, field: field, message)
    }
}
