import GatehouseWire
import NIOCore
import Testing

/// Every `RESPLimits` bound is enforced as soon as the offending length is known, with a
/// `.tooLarge` error whose reply line starts with `TOOLARGE`.
@Suite struct CommandParserLimitsTests {
    static let limits = RESPLimits(maxArguments: 4, maxBulkBytes: 16, maxInlineBytes: 32, maxFrameBytes: 64)
    let parser = RESPCommandParser(limits: Self.limits)

    func expectTooLarge(_ input: [UInt8], parser: RESPCommandParser? = nil, sourceLocation: SourceLocation = #_sourceLocation) {
        let parser = parser ?? self.parser
        var buffer = Wire.buffer(input)
        guard let error = Wire.protocolError(sourceLocation: sourceLocation, { () throws(RESPProtocolError) in try parser.parse(&buffer) }) else { return }
        #expect(error.code == .tooLarge, sourceLocation: sourceLocation)
        #expect(error.code.rawValue == "too_large", sourceLocation: sourceLocation)
        #expect(error.replyLine.hasPrefix("TOOLARGE "), "\(error.replyLine)", sourceLocation: sourceLocation)
        #expect(error.replyLine == "TOOLARGE \(error.message)", sourceLocation: sourceLocation)
    }

    func expectAccepted(_ input: [UInt8], _ expected: [String], sourceLocation: SourceLocation = #_sourceLocation) throws {
        var buffer = Wire.buffer(input)
        let command = try #require(try parser.parse(&buffer), sourceLocation: sourceLocation)
        #expect(Wire.strings(command) == expected, sourceLocation: sourceLocation)
        #expect(buffer.readableBytes == 0, sourceLocation: sourceLocation)
    }

    @Test func argumentCountAtTheLimitIsAccepted() throws {
        try expectAccepted(Wire.encodeArray(["a", "b", "c", "d"]), ["a", "b", "c", "d"])
        try expectAccepted(Array("a b c d\r\n".utf8), ["a", "b", "c", "d"])
    }

    @Test func tooManyArgumentsIsRefusedFromTheHeaderAlone() {
        expectTooLarge(Array("*5\r\n".utf8))
        expectTooLarge(Wire.encodeArray(["a", "b", "c", "d", "e"]))
        expectTooLarge(Array("*9223372036854775807\r\n".utf8))
    }

    @Test func tooManyInlineArguments() {
        expectTooLarge(Array("a b c d e\r\n".utf8))
        expectTooLarge(Array("a\tb\tc\td\te\n".utf8))
    }

    @Test func bulkAtTheLimitIsAccepted() throws {
        let sixteen = String(repeating: "k", count: 16)
        try expectAccepted(Wire.encodeArray(["VERIFY", sixteen]), ["VERIFY", sixteen])
    }

    @Test func bulkOverTheLimitIsRefusedBeforeItsPayloadArrives() {
        expectTooLarge(Array("*2\r\n$6\r\nVERIFY\r\n$17\r\n".utf8))
        expectTooLarge(Wire.encodeArray(["VERIFY", String(repeating: "k", count: 17)]))
        expectTooLarge(Array("*1\r\n$9223372036854775807\r\n".utf8))
    }

    @Test func frameAtTheLimitIsAccepted() throws {
        // 4 + (5 + 16 + 2) × 2 + (4 + 8 + 2) = 64 bytes.
        let input = Wire.encodeArray([String(repeating: "a", count: 16), String(repeating: "b", count: 16), "12345678"])
        #expect(input.count == 64)
        try expectAccepted(input, [String(repeating: "a", count: 16), String(repeating: "b", count: 16), "12345678"])
    }

    @Test func frameOverTheLimitIsRefusedBeforeItsPayloadArrives() {
        let over = Wire.encodeArray([String(repeating: "a", count: 16), String(repeating: "b", count: 16), "123456789"])
        #expect(over.count == 65)
        expectTooLarge(over)
        // Refused as soon as the third header is read: the payload never needs to be buffered.
        expectTooLarge(Array(over[..<(4 + 23 + 23 + 4)]))
    }

    @Test func frameLimitCountsFromTheCommandNotTheBuffer() throws {
        // A command that fits must be accepted after other commands were read from the buffer.
        let fits = Wire.encodeArray([String(repeating: "a", count: 16), String(repeating: "b", count: 16), "12345678"])
        var buffer = Wire.buffer(Wire.encodeArray(["PING"]) + Wire.encodeArray(["PING"]) + fits)
        let commands = try Wire.parseAll(&buffer, parser)
        #expect(commands.count == 3)
        #expect(buffer.readableBytes == 0)
    }

    @Test func inlineLineWithinTheLimitIsAccepted() throws {
        let words = "VERIFY abcdefghijklmnopqrstuvwx"  // 31 bytes
        try expectAccepted(Array((words + "\r\n").utf8), ["VERIFY", "abcdefghijklmnopqrstuvwx"])
    }

    @Test func inlineLineOverTheLimitIsRefused() {
        let long = String(repeating: "x", count: 40)
        expectTooLarge(Array((long + "\r\n").utf8))
        expectTooLarge(Array((long + "\n").utf8))
        // No newline needed: 33 bytes without one can never become a valid line.
        expectTooLarge(Array(String(repeating: "y", count: 33).utf8))
    }

    @Test func inlineLineOverTheLimitWithoutNewlineIsIncompleteUntilItIsTooLong() throws {
        var buffer = Wire.buffer(String(repeating: "y", count: 32))
        #expect(try parser.parse(&buffer) == nil)
        buffer.writeString("y")
        let error = Wire.protocolError { () throws(RESPProtocolError) in try parser.parse(&buffer) }
        #expect(error?.code == .tooLarge)
    }

    @Test func defaultLimits() throws {
        let parser = RESPCommandParser()
        #expect(parser.limits == .default)
        expectTooLarge(Array("*257\r\n".utf8), parser: parser)
        expectTooLarge(Array("*1\r\n$65537\r\n".utf8), parser: parser)
        expectTooLarge(Array(repeating: UInt8(ascii: "a"), count: 64 * 1024 + 1), parser: parser)
        // 20 arguments of 64 KiB go over the 1 MiB frame.
        var frame = Array("*20\r\n".utf8)
        for _ in 0..<20 { frame += Array("$65536\r\n".utf8) + Array(repeating: UInt8(ascii: "z"), count: 65536) + [0x0D, 0x0A] }
        expectTooLarge(frame, parser: parser)

        var buffer = Wire.buffer(Wire.encodeArray(Array(repeating: "a", count: 256)))
        let command = try #require(try parser.parse(&buffer))
        #expect(command.arguments.count == 256)
    }
}
