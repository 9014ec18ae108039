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
        for candidate in allCases where bytes.equalsIgnoringASCIICase(candidate.spelling) {
            return candidate
        }
        return nil
    }
}

extension ByteBuffer {
    /// Whether the readable bytes equal `text`, ignoring ASCII letter case.
    public func equalsIgnoringASCIICase(_ text: StaticString) -> Bool {
        guard readableBytes == text.utf8CodeUnitCount else { return false }
        return withUnsafeReadableBytes { bytes in
            let expected = UnsafeRawBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount)
            for index in 0..<bytes.count {
                var byte = bytes[index]
                if byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z") { byte -= 32 }
                if byte != expected[index] { return false }
            }
            return true
        }
    }

    /// The readable bytes as a non-negative decimal, or `nil`.
    public func decimalValue() -> Int64? {
        guard readableBytes > 0, readableBytes <= 18 else { return nil }
        var value: Int64 = 0
        for byte in readableBytesView {
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
            value = value * 10 + Int64(byte - UInt8(ascii: "0"))
        }
        return value
    }
}

/// `VERIFY key [SCOPE s]… [COST n] [IP addr] [RID id]`, parsed.
public struct VerifyArguments: Sendable {
    public var key: ByteBuffer
    public var scopes: [String] = []
    public var cost: Int64 = 1
    public var sourceAddress: ByteBuffer?
    public var requestID: String?

    public static let maxScopes = 32
    public static let maxScopeBytes = 128
    public static let maxRequestIDBytes = 128
    public static let maxCost: Int64 = 1_000_000

    public init(key: ByteBuffer) {
        self.key = key
    }

    public init(parsing arguments: [ByteBuffer]) throws(CommandError) {
        guard arguments.count >= 2 else {
            throw CommandError(.wrongArguments, "VERIFY needs a key: VERIFY key [SCOPE s]... [COST n] [IP addr] [RID id]")
        }
        self.init(key: arguments[1])
        var index = 2
        while index < arguments.count {
            guard index + 1 < arguments.count else {
                throw CommandError(.wrongArguments, "VERIFY option without a value; options are SCOPE, COST, IP and RID")
            }
            let option = arguments[index]
            let value = arguments[index + 1]
            if option.equalsIgnoringASCIICase("SCOPE") {
                guard scopes.count < Self.maxScopes else {
                    throw CommandError(.tooLarge, "VERIFY takes at most \(Self.maxScopes) scopes")
                }
                guard value.readableBytes > 0, value.readableBytes <= Self.maxScopeBytes else {
                    throw CommandError(.wrongArguments, "a SCOPE must be 1 to \(Self.maxScopeBytes) bytes")
                }
                scopes.append(String(buffer: value))
            } else if option.equalsIgnoringASCIICase("COST") {
                guard let cost = value.decimalValue(), cost <= Self.maxCost else {
                    throw CommandError(.wrongArguments, "COST must be an integer from 0 to \(Self.maxCost)")
                }
                self.cost = cost
            } else if option.equalsIgnoringASCIICase("IP") {
                guard value.readableBytes > 0, value.readableBytes <= 64 else {
                    throw CommandError(.wrongArguments, "IP must be an address of at most 64 bytes")
                }
                sourceAddress = value
            } else if option.equalsIgnoringASCIICase("RID") {
                guard value.readableBytes <= Self.maxRequestIDBytes else {
                    throw CommandError(.wrongArguments, "RID must be at most \(Self.maxRequestIDBytes) bytes")
                }
                requestID = String(buffer: value)
            } else {
                throw CommandError(.wrongArguments, "unknown VERIFY option; options are SCOPE, COST, IP and RID")
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
        guard arguments.count == 4 || arguments.count == 6 else {
            throw CommandError(.wrongArguments, "usage: THROTTLE bucket limit window_ms [COST n]")
        }
        guard arguments[1].readableBytes > 0, arguments[1].readableBytes <= Self.maxBucketBytes else {
            throw CommandError(.wrongArguments, "the bucket name must be 1 to \(Self.maxBucketBytes) bytes")
        }
        guard let limit = arguments[2].decimalValue(), limit >= 1 else {
            throw CommandError(.wrongArguments, "limit must be a positive integer")
        }
        guard let windowMs = arguments[3].decimalValue(), windowMs >= 1, windowMs <= Self.maxWindowMs else {
            throw CommandError(.wrongArguments, "window_ms must be an integer from 1 to \(Self.maxWindowMs)")
        }
        self.init(bucket: String(buffer: arguments[1]), limit: limit, windowMs: windowMs)
        if arguments.count == 6 {
            guard arguments[4].equalsIgnoringASCIICase("COST") else {
                throw CommandError(.wrongArguments, "the only THROTTLE option is COST n")
            }
            guard let cost = arguments[5].decimalValue(), cost <= VerifyArguments.maxCost else {
                throw CommandError(.wrongArguments, "COST must be an integer from 0 to \(VerifyArguments.maxCost)")
            }
            self.cost = cost
        }
    }
}
