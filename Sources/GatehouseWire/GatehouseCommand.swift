import NIOCore

/// The commands a Gatehouse RPC connection understands.
public enum GatehouseCommandName: Sendable, CaseIterable {
    case verify, throttle, ping, hello, auth, info, quit, command, client, select, config

    var spelling: StaticString {
        switch self {
        case .verify: "VERIFY"
        case .throttle: "THROTTLE"
        case .ping: "PING"
        case .hello: "HELLO"
        case .auth: "AUTH"
        case .info: "INFO"
        case .quit: "QUIT"
        case .command: "COMMAND"
        case .client: "CLIENT"
        case .select: "SELECT"
        case .config: "CONFIG"
        }
    }

    /// The command named by `bytes`, compared case-insensitively without allocating.
    public static func identify(_ bytes: ByteBuffer) -> GatehouseCommandName? {
        bytes.withUnsafeReadableBytes { identify($0) }
    }

    /// The command named by `bytes`, compared case-insensitively without allocating.
    public static func identify(_ bytes: UnsafeRawBufferPointer) -> GatehouseCommandName? {
        for candidate in allCases where bytes.equalsIgnoringASCIICase(candidate.spelling) {
            return candidate
        }
        return nil
    }
}

extension UnsafeRawBufferPointer {
    /// Whether the bytes equal `text`, ignoring ASCII letter case.
    public func equalsIgnoringASCIICase(_ text: StaticString) -> Bool {
        guard count == text.utf8CodeUnitCount else { return false }
        let expected = UnsafeRawBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount)
        for index in 0..<count {
            var byte = self[index]
            if byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z") { byte -= 32 }
            if byte != expected[index] { return false }
        }
        return true
    }

    /// The bytes as a non-negative decimal, or `nil`.
    public func decimalValue() -> Int64? {
        guard count > 0, count <= 18 else { return nil }
        var value: Int64 = 0
        for byte in self {
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
            value = value * 10 + Int64(byte - UInt8(ascii: "0"))
        }
        return value
    }
}

extension ByteBuffer {
    /// Whether the readable bytes equal `text`, ignoring ASCII letter case.
    public func equalsIgnoringASCIICase(_ text: StaticString) -> Bool {
        withUnsafeReadableBytes { $0.equalsIgnoringASCIICase(text) }
    }

    /// The readable bytes as a non-negative decimal, or `nil`.
    public func decimalValue() -> Int64? {
        withUnsafeReadableBytes { $0.decimalValue() }
    }
}

/// `VERIFY key [SCOPE s]… [COST n] [IP addr] [RID id] [FIELDS name,…]`, parsed.
public struct VerifyArguments: Sendable {
    public var key: ByteBuffer
    public var scopes: [String] = []
    public var cost: Int64 = 1
    public var sourceAddress: ByteBuffer?
    public var requestID: String?
    /// The fields of the reply (`FIELDS`); all by default.
    public var fields = VerifyReplyFields.all
    /// Whether the command named its fields: `request_id` is then in the reply only if named.
    public var fieldsListed = false

    public static let maxScopes = 32
    public static let maxScopeBytes = 128
    public static let maxRequestIDBytes = 128
    public static let maxCost: Int64 = 1_000_000

    public init(key: ByteBuffer) {
        self.key = key
    }

    public init(parsing arguments: [ByteBuffer]) throws(CommandError) {
        try self.init(parsing: RESPCommandView(arguments: arguments))
    }

    /// Parses a VERIFY read in place; the key stays a slice of the receive buffer and each
    /// scope (usually a short string, stored inline) is the only thing copied out.
    ///
    /// `scopeStorage` is an array to reuse for the scopes (emptied first), so that a
    /// connection parsing command after command does not allocate one each time.
    public init(parsing command: RESPCommandView, scopeStorage: consuming [String] = []) throws(CommandError) {
        guard command.count >= 2 else {
            throw CommandError(.wrongArguments, "VERIFY needs a key: VERIFY key [SCOPE s]... [COST n] [IP addr] [RID id] [FIELDS name,...]")
        }
        self.init(key: command.argument(1))
        scopes = consume scopeStorage
        scopes.removeAll(keepingCapacity: true)
        var index = 2
        while index < command.count {
            guard index + 1 < command.count else {
                throw CommandError(.wrongArguments, "VERIFY option without a value; options are SCOPE, COST, IP, RID and FIELDS")
            }
            let value = index + 1
            if command.argument(index, equalsIgnoringASCIICase: "SCOPE") {
                guard scopes.count < Self.maxScopes else {
                    throw CommandError(.tooLarge, "VERIFY takes at most \(Self.maxScopes) scopes")
                }
                guard command.length(value) > 0, command.length(value) <= Self.maxScopeBytes else {
                    throw CommandError(.wrongArguments, "a SCOPE must be 1 to \(Self.maxScopeBytes) bytes")
                }
                scopes.append(command.string(value))
            } else if command.argument(index, equalsIgnoringASCIICase: "COST") {
                guard let cost = command.decimalValue(value), cost <= Self.maxCost else {
                    throw CommandError(.wrongArguments, "COST must be an integer from 0 to \(Self.maxCost)")
                }
                self.cost = cost
            } else if command.argument(index, equalsIgnoringASCIICase: "IP") {
                guard command.length(value) > 0, command.length(value) <= 64 else {
                    throw CommandError(.wrongArguments, "IP must be an address of at most 64 bytes")
                }
                sourceAddress = command.argument(value)
            } else if command.argument(index, equalsIgnoringASCIICase: "RID") {
                guard command.length(value) <= Self.maxRequestIDBytes else {
                    throw CommandError(.wrongArguments, "RID must be at most \(Self.maxRequestIDBytes) bytes")
                }
                requestID = command.string(value)
            } else if command.argument(index, equalsIgnoringASCIICase: "FIELDS") {
                guard !fieldsListed else {
                    throw CommandError(.wrongArguments, "VERIFY takes FIELDS once")
                }
                fieldsListed = true
                let parsed: Result<VerifyReplyFields, CommandError> = command.withBytes(value) { list in
                    Result { () throws(CommandError) in try VerifyReplyFields(parsingList: list) }
                }
                fields = try parsed.get()
            } else {
                throw CommandError(.wrongArguments, "unknown VERIFY option; options are SCOPE, COST, IP, RID and FIELDS")
            }
            index += 2
        }
    }
}

/// `THROTTLE bucket limit window_ms [COST n]`, parsed.
public struct ThrottleArguments: Sendable {
    public var bucket: String
    public var limit: Int64
    public var windowMs: Int64
    public var cost: Int64 = 1

    public static let maxBucketBytes = 256
    public static let maxWindowMs: Int64 = 366 * 24 * 3_600_000

    public init(bucket: String, limit: Int64, windowMs: Int64, cost: Int64 = 1) {
        self.bucket = bucket
        self.limit = limit
        self.windowMs = windowMs
        self.cost = cost
    }

    public init(parsing arguments: [ByteBuffer]) throws(CommandError) {
        try self.init(parsing: RESPCommandView(arguments: arguments))
    }

    public init(parsing command: RESPCommandView) throws(CommandError) {
        guard command.count == 4 || command.count == 6 else {
            throw CommandError(.wrongArguments, "usage: THROTTLE bucket limit window_ms [COST n]")
        }
        guard command.length(1) > 0, command.length(1) <= Self.maxBucketBytes else {
            throw CommandError(.wrongArguments, "the bucket name must be 1 to \(Self.maxBucketBytes) bytes")
        }
        guard let limit = command.decimalValue(2), limit >= 1 else {
            throw CommandError(.wrongArguments, "limit must be a positive integer")
        }
        guard let windowMs = command.decimalValue(3), windowMs >= 1, windowMs <= Self.maxWindowMs else {
            throw CommandError(.wrongArguments, "window_ms must be an integer from 1 to \(Self.maxWindowMs)")
        }
        self.init(bucket: command.string(1), limit: limit, windowMs: windowMs)
        if command.count == 6 {
            guard command.argument(4, equalsIgnoringASCIICase: "COST") else {
                throw CommandError(.wrongArguments, "the only THROTTLE option is COST n")
            }
            guard let cost = command.decimalValue(5), cost <= VerifyArguments.maxCost else {
                throw CommandError(.wrongArguments, "COST must be an integer from 0 to \(VerifyArguments.maxCost)")
            }
            self.cost = cost
        }
    }
}
