import GatehouseTestKit
import GatehouseWire
import NIOCore
import Testing

/// A verifier in the style of swift-nio's `ByteToMessageDecoderVerifier`: however the bytes
/// of a valid stream are split into reads, the parser yields exactly the commands it yields
/// for the whole stream, and while a command is incomplete `parse` returns `nil` without
/// consuming anything.
@Suite struct CommandParserIncrementalTests {
    /// Feeds `input` in chunks of the sizes `nextChunk` picks, parsing after every read as a
    /// `ByteToMessageHandler` would; checks every `nil` left the buffer untouched.
    static func feed(
        _ input: [UInt8],
        parser: RESPCommandParser = RESPCommandParser(),
        sourceLocation: SourceLocation = #_sourceLocation,
        nextChunk: () -> Int
    ) throws -> (commands: [[[UInt8]]], leftover: Int) {
        var buffer = ByteBuffer()
        var commands: [[[UInt8]]] = []
        var offset = 0
        while offset < input.count {
            let size = min(max(1, nextChunk()), input.count - offset)
            buffer.writeBytes(input[offset..<offset + size])
            offset += size
            while true {
                let readerBefore = buffer.readerIndex
                let bytesBefore = Wire.bytes(buffer)
                guard let command = try parser.parse(&buffer) else {
                    #expect(buffer.readerIndex == readerBefore, "nil must not consume", sourceLocation: sourceLocation)
                    #expect(Wire.bytes(buffer) == bytesBefore, "nil must not change the buffer", sourceLocation: sourceLocation)
                    break
                }
                #expect(buffer.readerIndex > readerBefore, "a command must consume bytes", sourceLocation: sourceLocation)
                commands.append(Wire.arguments(command))
            }
            // As ByteToMessageHandler does now and then: drop what has been read.
            if offset % 7 == 0 { buffer.discardReadBytes() }
        }
        return (commands, buffer.readableBytes)
    }

    static func whole(_ input: [UInt8]) throws -> (commands: [[[UInt8]]], leftover: Int) {
        var buffer = Wire.buffer(input)
        let commands = try Wire.parseAll(&buffer)
        return (commands.map(Wire.arguments), buffer.readableBytes)
    }

    /// A random valid stream and the arguments of the commands in it.
    static func randomStream(_ rng: inout SeededGenerator) -> (bytes: [UInt8], commands: [[[UInt8]]]) {
        let wordAlphabet = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-:$*.+".utf8)
        var bytes: [UInt8] = []
        var commands: [[[UInt8]]] = []
        for _ in 0..<Int.random(in: 1...6, using: &rng) {
            switch Int.random(in: 0..<10, using: &rng) {
            case 0..<5:  // array of bulk strings with arbitrary bytes
                let arguments = (0..<Int.random(in: 1...6, using: &rng)).map { _ in rng.bytes(0...40) }
                bytes += Wire.encodeArray(arguments)
                commands.append(arguments)
            case 5..<8:  // inline words separated by runs of spaces and tabs
                var words = (0..<Int.random(in: 1...5, using: &rng)).map { _ in rng.bytes(1...12, from: wordAlphabet) }
                if words[0][0] == UInt8(ascii: "*") { words[0][0] = UInt8(ascii: "x") }
                let gap = { (rng: inout SeededGenerator) in rng.bytes(1...3, from: Array(" \t".utf8)) }
                var line = Bool.random(using: &rng) ? [] : gap(&rng)
                for (index, word) in words.enumerated() {
                    if index > 0 { line += gap(&rng) }
                    line += word
                }
                if Bool.random(using: &rng) { line += gap(&rng) }
                line += Bool.random(using: &rng) ? Array("\r\n".utf8) : Array("\n".utf8)
                bytes += line
                commands.append(words)
            case 8:  // empty line
                bytes += Bool.random(using: &rng) ? Array("\r\n".utf8) : Array(" \t\n".utf8)
                commands.append([])
            default:  // null array
                bytes += Array("*-1\r\n".utf8)
                commands.append([])
            }
        }
        return (bytes, commands)
    }

    @Test func byteByByteEqualsWhole() throws {
        var rng = SeededGenerator(seed: 0xB17E_B7B1)
        for _ in 0..<300 {
            let stream = Self.randomStream(&rng)
            let whole = try Self.whole(stream.bytes)
            #expect(whole.commands == stream.commands)
            #expect(whole.leftover == 0)
            let split = try Self.feed(stream.bytes) { 1 }
            #expect(split.commands == whole.commands)
            #expect(split.leftover == 0)
        }
    }

    @Test func randomChunksEqualWhole() throws {
        var rng = SeededGenerator(seed: 0xC4_0C5)
        for _ in 0..<1_000 {
            let stream = Self.randomStream(&rng)
            let maxChunk = [2, 5, 16, 64].randomElement(using: &rng)!
            let split = try Self.feed(stream.bytes) { Int.random(in: 1...maxChunk, using: &rng) }
            #expect(split.commands == stream.commands)
            #expect(split.leftover == 0)
        }
    }

    @Test func everyProperPrefixOfACommandIsIncomplete() throws {
        let parser = RESPCommandParser()
        let inputs: [[UInt8]] = [
            Wire.encodeArray(["VERIFY", "gh_live_abc", "SCOPE", "read", "COST", "12"]),
            Wire.encodeArray([[0x0D, 0x0A, 0x0D], []]),
            Array("VERIFY key SCOPE read\r\n".utf8),
            Array("*-1\r\n".utf8),
            Wire.encodeArray(Array(repeating: "x", count: 12)),
        ]
        for input in inputs {
            for length in 0..<input.count {
                var buffer = Wire.buffer(Array(input[..<length]))
                #expect(try parser.parse(&buffer) == nil, "prefix of \(length) of \(input.count) bytes")
                #expect(buffer.readerIndex == 0)
                #expect(buffer.readableBytes == length)
            }
            var buffer = Wire.buffer(input)
            #expect(try parser.parse(&buffer) != nil)
            #expect(buffer.readableBytes == 0)
        }
    }

    @Test func incompleteCommandAfterACompleteOneIsLeftIntact() throws {
        let parser = RESPCommandParser()
        let second = Wire.encodeArray(["THROTTLE", "bucket", "5", "1000"])
        for cut in 0..<second.count {
            var buffer = Wire.buffer(Wire.encodeArray(["PING"]) + second[..<cut])
            let first = try #require(try parser.parse(&buffer))
            #expect(Wire.strings(first) == ["PING"])
            let readerIndex = buffer.readerIndex
            #expect(try parser.parse(&buffer) == nil)
            #expect(buffer.readerIndex == readerIndex)
            #expect(Wire.bytes(buffer) == Array(second[..<cut]))
        }
    }
}
