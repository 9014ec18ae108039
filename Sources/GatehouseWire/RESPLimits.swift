/// Size limits applied to every RESP frame before anything is buffered for it.
public struct RESPLimits: Sendable, Hashable {
    /// Most arguments one command may have.
    public var maxArguments: Int
    /// Longest single argument (bulk string), in bytes.
    public var maxBulkBytes: Int
    /// Longest inline (telnet-style) command line, in bytes.
    public var maxInlineBytes: Int
    /// Most bytes one whole command may take on the wire.
    public var maxFrameBytes: Int

    public init(maxArguments: Int = 256, maxBulkBytes: Int = 64 * 1024, maxInlineBytes: Int = 64 * 1024, maxFrameBytes: Int = 1024 * 1024) {
        self.maxArguments = maxArguments
        self.maxBulkBytes = maxBulkBytes
        self.maxInlineBytes = maxInlineBytes
        self.maxFrameBytes = maxFrameBytes
    }

    public static let `default` = RESPLimits()
}

/// Why a stream of bytes is not a RESP command stream. The connection cannot be trusted to
/// be in step after one of these, so the server answers once and closes it.
public struct RESPProtocolError: Error, Hashable, Sendable, CustomStringConvertible {
    public struct Code: RawRepresentable, Hashable, Sendable {
        public var rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }

        /// Bytes that are not RESP.
        public static let malformed = Code(rawValue: "malformed")
        /// A frame, argument count or argument over the configured limits.
        public static let tooLarge = Code(rawValue: "too_large")
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }

    /// The error line sent to the client before closing: `TOOLARGE …` or `ERR Protocol error: …`.
    public var replyLine: String {
        code == .tooLarge ? "TOOLARGE \(message)" : "ERR Protocol error: \(message)"
    }
}
