import GatehouseWire
import NIOCore
import Testing

/// Bytes that cannot be a RESP command raise a `.malformed` error whose reply line is
/// `ERR Protocol error: …`, as Redis answers.
@Suite struct CommandParserMalformedTests {
    @Test(arguments: [
        "*abc\r\n",
        "*1x\r\n",
        "*\r\n",
        "*-\r\n",
        "*--1\r\n",
        "*1\n",
        "*1\rX",
        "* 1\r\n",
        "*1\r\n$abc\r\n",
        "*1\r\n$\r\n",
        "*1\r\n$3x\r\nfoo\r\n",
        "*1\r\n:5\r\n",
        "*1\r\n+PING\r\n",
        "*2\r\n$4\r\nPING\r\n*1\r\n",
        "*1\r\n$3\r\nfooXY",
        "*1\r\n$3\r\nfoo\n\r",
        "*1\r\n$3\r\nfoob\r\n",
        "*1\r\n$3\r\nfo\r\n\r\n",
        "*1\r\n$-5\r\n",
        "*1\r\n$-1\r\n",
        "*0000000000000000000000001\r\n",
        "*1\r\n$0000000000000000000000003\r\nfoo\r\n",
        "*99999999999999999999\r\n",
        "*1\r\n$99999999999999999999\r\n",
        "*-9223372036854775808\r\n",
    ])
    func malformed(input: String) {
        var buffer = Wire.buffer(input)
        let error = Wire.protocolError { () throws(RESPProtocolError) in try RESPCommandParser().parse(&buffer) }
        #expect(error?.code == .malformed)
        #expect(error?.code.rawValue == "malformed")
        #expect(error?.replyLine.hasPrefix("ERR Protocol error") == true, "\(error?.replyLine ?? "")")
        if let error { #expect(error.replyLine == "ERR Protocol error: \(error.message)") }
    }

    @Test func overlongHeaderIsRefusedWithoutWaitingForItsEnd() {
        // 30 digits and no CRLF yet: no valid header is that long, so there is nothing to wait for.
        var buffer = Wire.buffer("*" + String(repeating: "0", count: 30))
        let error = Wire.protocolError { () throws(RESPProtocolError) in try RESPCommandParser().parse(&buffer) }
        #expect(error?.code == .malformed)
    }

    @Test func longestValidHeaderIsAccepted() throws {
        // Nineteen digits with leading zeros still name a small count.
        var buffer = Wire.buffer("*0000000000000000001\r\n$0000000000000000004\r\nPING\r\n")
        let command = try #require(try RESPCommandParser().parse(&buffer))
        #expect(Wire.strings(command) == ["PING"])
    }

    @Test(arguments: ["*1\r\n$3\r\nfoo\r", "*1\r\n$3\r\nfoo", "*1\r\n$3\r", "*1\r\n$", "*1\r", "*-"])
    func truncatedIsIncompleteNotMalformed(input: String) throws {
        var buffer = Wire.buffer(input)
        #expect(try RESPCommandParser().parse(&buffer) == nil)
        #expect(buffer.readerIndex == 0)
    }

    @Test func errorsAfterAValidCommandLeaveTheValidCommandParsed() throws {
        var buffer = Wire.buffer(Wire.encodeArray(["PING"]) + Array("*1\r\n:5\r\n".utf8))
        let parser = RESPCommandParser()
        let first = try #require(try parser.parse(&buffer))
        #expect(Wire.strings(first) == ["PING"])
        let error = Wire.protocolError { () throws(RESPProtocolError) in try parser.parse(&buffer) }
        #expect(error?.code == .malformed)
    }

    @Test func descriptionIsTheMessage() {
        let error = RESPProtocolError(.malformed, "invalid length header")
        #expect(error.description == "invalid length header")
        #expect(error.replyLine == "ERR Protocol error: invalid length header")
        #expect(RESPProtocolError(.tooLarge, "x").replyLine == "TOOLARGE x")
    }
}
