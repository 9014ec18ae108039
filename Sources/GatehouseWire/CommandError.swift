/// A command the server understood as RESP but refuses; sent back as `-CODE message`.
public struct CommandError: Error, Hashable, Sendable, CustomStringConvertible {
    public struct Code: RawRepresentable, Hashable, Sendable {
        public var rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }

        public static let generic = Code(rawValue: "ERR")
        public static let wrongArguments = Code(rawValue: "WRONGARGS")
        public static let tooLarge = Code(rawValue: "TOOLARGE")
        public static let noAuth = Code(rawValue: "NOAUTH")
        public static let wrongPass = Code(rawValue: "WRONGPASS")
        public static let noProto = Code(rawValue: "NOPROTO")
    }

    public var code: Code
    /// Never contains an argument's value: arguments may be keys.
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code.rawValue) \(message)" }
}
