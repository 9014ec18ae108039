import GatehouseTestKit
import GatehouseWire
import NIOCore
import Testing

/// Shared helpers for the wire tests. Randomness always comes from a `SeededGenerator`.
enum Wire {
    static func buffer(_ text: String) -> ByteBuffer {
        ByteBuffer(string: text)
    }

    static func buffer(_ bytes: [UInt8]) -> ByteBuffer {
        ByteBuffer(bytes: bytes)
    }

    static func bytes(_ buffer: ByteBuffer) -> [UInt8] {
        Array(buffer.readableBytesView)
    }

    static func text(_ buffer: ByteBuffer) -> String {
        String(buffer: buffer)
    }

    /// A command's arguments as byte arrays, for exact comparisons.
    static func arguments(_ command: RESPCommand) -> [[UInt8]] {
        command.arguments.map(bytes)
    }

    /// A command's arguments as strings, for readable expectations.
    static func strings(_ command: RESPCommand) -> [String] {
        command.arguments.map(text)
    }

    /// `arguments` as a RESP array of bulk strings, the way every Redis client sends it.
    static func encodeArray(_ arguments: [[UInt8]]) -> [UInt8] {
        var out = Array("*\(arguments.count)\r\n".utf8)
        for argument in arguments {
            out += Array("$\(argument.count)\r\n".utf8)
            out += argument
            out += [0x0D, 0x0A]
        }
        return out
    }

    static func encodeArray(_ arguments: [String]) -> [UInt8] {
        encodeArray(arguments.map { Array($0.utf8) })
    }

    /// Arguments as `ByteBuffer`s, the shape `VerifyArguments(parsing:)` takes.
    static func argv(_ arguments: [String]) -> [ByteBuffer] {
        arguments.map { ByteBuffer(string: $0) }
    }

    /// Parses commands off the front of `buffer` until the parser needs more bytes.
    static func parseAll(_ buffer: inout ByteBuffer, _ parser: RESPCommandParser = RESPCommandParser()) throws(RESPProtocolError) -> [RESPCommand] {
        var commands: [RESPCommand] = []
        while let command = try parser.parse(&buffer) {
            commands.append(command)
        }
        return commands
    }

    /// The `RESPProtocolError` `body` throws, or `nil` (recorded as an issue) when it returns.
    static func protocolError<T>(
        sourceLocation: SourceLocation = #_sourceLocation,
        _ body: () throws(RESPProtocolError) -> T
    ) -> RESPProtocolError? {
        do {
            let value = try body()
            Issue.record("expected a RESPProtocolError, got \(value)", sourceLocation: sourceLocation)
            return nil
        } catch {
            return error
        }
    }

    /// The `CommandError` `body` throws, or `nil` (recorded as an issue) when it returns.
    static func commandError<T>(
        sourceLocation: SourceLocation = #_sourceLocation,
        _ body: () throws(CommandError) -> T
    ) -> CommandError? {
        do {
            _ = try body()
            Issue.record("expected a CommandError", sourceLocation: sourceLocation)
            return nil
        } catch {
            return error
        }
    }

    /// The `GossipDecodeError` `body` throws, or `nil` (recorded as an issue) when it returns.
    static func decodeError<T>(
        sourceLocation: SourceLocation = #_sourceLocation,
        _ body: () throws(GossipDecodeError) -> T
    ) -> GossipDecodeError? {
        do {
            let value = try body()
            Issue.record("expected a GossipDecodeError, got \(value)", sourceLocation: sourceLocation)
            return nil
        } catch {
            return error
        }
    }

    /// A value written by `write`, parsed back; `nil` fields are recorded as issues.
    static func roundTrip(
        sourceLocation: SourceLocation = #_sourceLocation,
        _ write: (inout ByteBuffer) -> Void
    ) throws -> RESPValue {
        var buffer = ByteBuffer()
        write(&buffer)
        let value = try #require(try RESPValueParser().parse(&buffer), sourceLocation: sourceLocation)
        #expect(buffer.readableBytes == 0, "the parser left bytes behind", sourceLocation: sourceLocation)
        return value
    }
}

extension SeededGenerator {
    /// A random byte string of a length in `lengths`, drawn from `alphabet` (or all bytes).
    mutating func bytes(_ lengths: ClosedRange<Int>, from alphabet: [UInt8]? = nil) -> [UInt8] {
        let count = Int.random(in: lengths, using: &self)
        return (0..<count).map { _ in
            if let alphabet { return alphabet.randomElement(using: &self)! }
            return UInt8.random(in: 0...255, using: &self)
        }
    }

    /// `bytes` with one to four random bytes replaced, removed or inserted.
    mutating func mutated(_ bytes: [UInt8]) -> [UInt8] {
        var bytes = bytes
        for _ in 0..<(1 + Int(next() % 4)) where !bytes.isEmpty {
            let position = Int(next() % UInt64(bytes.count))
            switch next() % 3 {
            case 0: bytes[position] = UInt8.random(in: 0...255, using: &self)
            case 1: bytes.remove(at: position)
            default: bytes.insert(UInt8.random(in: 0...255, using: &self), at: position)
            }
        }
        return bytes
    }
}
