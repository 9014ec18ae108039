import GatehouseTestKit
import GatehouseWire
import NIOCore
import Testing

/// Random bytes and mutated commands never crash the parser: every call returns a command,
/// `nil` or a `RESPProtocolError`, every command consumes bytes, so parsing terminates, and
/// splitting the input into reads never changes the outcome.
@Suite struct CommandParserFuzzTests {
    /// What parsing a whole input leads to: the commands, then either an error or leftovers.
    struct Outcome: Equatable {
        var commands: [[[UInt8]]] = []
        var error: RESPProtocolError?
        var leftover = 0
    }

    static let small = RESPLimits(maxArguments: 5, maxBulkBytes: 24, maxInlineBytes: 40, maxFrameBytes: 96)
    static let alphabet = Array("*$-+:0123456789\r\n\r\n \tabcPING".utf8) + [0, 0xFF]

    /// Parses `input` fed in reads of the sizes `nextChunk` picks.
    static func run(_ input: [UInt8], _ parser: RESPCommandParser, sourceLocation: SourceLocation = #_sourceLocation, nextChunk: () -> Int) -> Outcome {
        var outcome = Outcome()
        var buffer = ByteBuffer()
        var offset = 0
        var calls = 0
        while offset < input.count {
            let size = min(max(1, nextChunk()), input.count - offset)
            buffer.writeBytes(input[offset..<offset + size])
            offset += size
            do {
                while true {
                    calls += 1
                    guard calls <= 4 * input.count + 4 else {
                        Issue.record("parsing does not terminate", sourceLocation: sourceLocation)
                        return outcome
                    }
                    let readerIndex = buffer.readerIndex
                    guard let command = try parser.parse(&buffer) else {
                        if buffer.readerIndex != readerIndex {
                            Issue.record("nil consumed bytes", sourceLocation: sourceLocation)
                        }
                        break
                    }
                    if buffer.readerIndex <= readerIndex {
                        Issue.record("a command consumed nothing", sourceLocation: sourceLocation)
                        return outcome
                    }
                    outcome.commands.append(Wire.arguments(command))
                }
            } catch {
                outcome.error = error
                return outcome
            }
        }
        outcome.leftover = buffer.readableBytes
        return outcome
    }

    static func check(_ input: [UInt8], _ parser: RESPCommandParser, _ rng: inout SeededGenerator, sourceLocation: SourceLocation = #_sourceLocation) {
        let whole = run(input, parser, sourceLocation: sourceLocation) { input.count }
        let chunked = run(input, parser, sourceLocation: sourceLocation) { Int.random(in: 1...9, using: &rng) }
        #expect(chunked == whole, "input \(input)", sourceLocation: sourceLocation)
        if let error = whole.error {
            #expect(error.code == .malformed || error.code == .tooLarge, sourceLocation: sourceLocation)
        }
    }

    @Test func randomBytes() {
        var rng = SeededGenerator(seed: 0xF022_0001)
        let parsers = [RESPCommandParser(), RESPCommandParser(limits: Self.small)]
        var errors = 0
        var commands = 0
        for round in 0..<20_000 {
            let input = round % 2 == 0 ? rng.bytes(0...48, from: Self.alphabet) : rng.bytes(0...48)
            let parser = parsers[round % 4 < 2 ? 0 : 1]
            Self.check(input, parser, &rng)
            let outcome = Self.run(input, parser) { input.count }
            if outcome.error != nil { errors += 1 }
            commands += outcome.commands.count
        }
        // The inputs reach both the error paths and the command paths.
        #expect(errors > 1_000)
        #expect(commands > 1_000)
    }

    static func validCommand(_ rng: inout SeededGenerator) -> [UInt8] {
        switch Int.random(in: 0..<4, using: &rng) {
        case 0:
            return Array("VERIFY gh_live_\(Int.random(in: 0..<1_000_000, using: &rng)) SCOPE read\r\n".utf8)
        case 1:
            return Wire.encodeArray(["THROTTLE", "b\(Int.random(in: 0..<100, using: &rng))", "10", "60000"])
        default:
            let arguments = (0..<Int.random(in: 1...4, using: &rng)).map { _ in rng.bytes(0...12) }
            return Wire.encodeArray(arguments)
        }
    }

    static func mutate(_ input: [UInt8], _ rng: inout SeededGenerator) -> [UInt8] {
        var bytes = input
        for _ in 0..<Int.random(in: 1...4, using: &rng) {
            let position = Int.random(in: 0...bytes.count, using: &rng)
            switch Int.random(in: 0..<3, using: &rng) {
            case 0 where position < bytes.count:  // flip one bit
                bytes[position] ^= 1 << UInt8.random(in: 0..<8, using: &rng)
            case 1:  // insert a byte, often a meaningful one
                let byte = Bool.random(using: &rng) ? alphabet.randomElement(using: &rng)! : UInt8.random(in: 0...255, using: &rng)
                bytes.insert(byte, at: position)
            default:  // delete a byte
                if position < bytes.count { bytes.remove(at: position) }
            }
        }
        return bytes
    }

    @Test func mutatedCommands() {
        var rng = SeededGenerator(seed: 0xF022_0002)
        let parsers = [RESPCommandParser(), RESPCommandParser(limits: Self.small)]
        var errors = 0
        for round in 0..<20_000 {
            var input: [UInt8] = []
            for _ in 0..<Int.random(in: 1...3, using: &rng) { input += Self.validCommand(&rng) }
            input = Self.mutate(input, &rng)
            let parser = parsers[round % 2]
            Self.check(input, parser, &rng)
            if Self.run(input, parser, nextChunk: { input.count }).error != nil { errors += 1 }
        }
        #expect(errors > 1_000)
    }
}
