import GatehouseWire
import NIOCore
import Testing

/// How `RESPCommandParser` splits a byte stream into commands: RESP arrays of bulk strings,
/// pipelines, inline (telnet-style) lines, empty lines and null arrays.
@Suite struct CommandParserFramingTests {
    let parser = RESPCommandParser()

    @Test func arrayOfBulkStrings() throws {
        var buffer = Wire.buffer("*3\r\n$6\r\nVERIFY\r\n$5\r\nkey-1\r\n$0\r\n\r\n")
        let command = try #require(try parser.parse(&buffer))
        #expect(Wire.strings(command) == ["VERIFY", "key-1", ""])
        #expect(command.name.map(Wire.text) == "VERIFY")
        #expect(buffer.readableBytes == 0)
    }

    @Test func bulkPayloadsAreBinarySafe() throws {
        let payloads: [[UInt8]] = [
            Array("a\r\nb".utf8), Array("*2\r\n$1\r\n".utf8), [0, 0xFF, 0x0D, 0x0A, 0x0D], [0x0A], Array("  \t ".utf8),
        ]
        var buffer = Wire.buffer(Wire.encodeArray(payloads))
        let command = try #require(try parser.parse(&buffer))
        #expect(Wire.arguments(command) == payloads)
        #expect(buffer.readableBytes == 0)
    }

    @Test func pipelinedCommandsInOneBuffer() throws {
        var bytes = Wire.encodeArray(["PING"])
        bytes += Wire.encodeArray(["VERIFY", "k", "SCOPE", "read"])
        bytes += Array("PING hello\r\n".utf8)
        bytes += Wire.encodeArray(["THROTTLE", "b", "10", "1000"])
        bytes += Array("*2\r\n$4\r\nPI".utf8)  // the start of a fifth command
        var buffer = Wire.buffer(bytes)
        let commands = try Wire.parseAll(&buffer, parser)
        #expect(commands.map(Wire.strings) == [
            ["PING"], ["VERIFY", "k", "SCOPE", "read"], ["PING", "hello"], ["THROTTLE", "b", "10", "1000"],
        ])
        #expect(Wire.text(buffer) == "*2\r\n$4\r\nPI", "the incomplete command stays buffered")
    }

    @Test func argumentsAreSlicesOfTheReceiveBuffer() throws {
        var buffer = Wire.buffer(Wire.encodeArray(["VERIFY", "abc"]) + Wire.encodeArray(["PING"]))
        let first = try #require(try parser.parse(&buffer))
        let second = try #require(try parser.parse(&buffer))
        // Slices keep their own bytes, whatever later happens to the buffer.
        buffer.clear()
        buffer.writeString("XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX")
        #expect(Wire.strings(first) == ["VERIFY", "abc"])
        #expect(Wire.strings(second) == ["PING"])
    }

    @Test func parsingStartsAtTheReaderIndex() throws {
        var buffer = Wire.buffer("garbage!" + "*1\r\n$4\r\nPING\r\n")
        buffer.moveReaderIndex(forwardBy: 8)
        let command = try #require(try parser.parse(&buffer))
        #expect(Wire.strings(command) == ["PING"])
        #expect(buffer.readableBytes == 0)
    }

    @Test(arguments: [
        ("PING\r\n", ["PING"]),
        ("PING\n", ["PING"]),
        ("VERIFY key SCOPE read\r\n", ["VERIFY", "key", "SCOPE", "read"]),
        ("VERIFY\tkey\t\tSCOPE read\n", ["VERIFY", "key", "SCOPE", "read"]),
        ("   PING   \r\n", ["PING"]),
        ("\t PING \t hello \t\n", ["PING", "hello"]),
        ("a\rb c\r\n", ["a\rb", "c"]),
        ("$3 foo\r\n", ["$3", "foo"]),
        (":5\n", [":5"]),
    ] as [(String, [String])])
    func inlineCommands(line: String, expected: [String]) throws {
        var buffer = Wire.buffer(line + "PING\r\n")
        let command = try #require(try parser.parse(&buffer))
        #expect(Wire.strings(command) == expected)
        #expect(Wire.text(buffer) == "PING\r\n", "exactly one line is consumed")
    }

    @Test func inlineLineWithoutNewlineIsIncomplete() throws {
        var buffer = Wire.buffer("VERIFY key")
        #expect(try parser.parse(&buffer) == nil)
        #expect(buffer.readerIndex == 0)
        buffer.writeString("\r")
        #expect(try parser.parse(&buffer) == nil)
        buffer.writeString("\n")
        let command = try #require(try parser.parse(&buffer))
        #expect(Wire.strings(command) == ["VERIFY", "key"])
    }

    @Test(arguments: ["\r\n", "\n", "   \r\n", "\t\t\n", " \t \n"])
    func emptyLinesAreEmptyCommands(line: String) throws {
        var buffer = Wire.buffer(line + "*1\r\n$4\r\nPING\r\n")
        let empty = try #require(try parser.parse(&buffer))
        #expect(empty.arguments.isEmpty)
        #expect(empty.name == nil)
        let next = try #require(try parser.parse(&buffer))
        #expect(Wire.strings(next) == ["PING"])
        #expect(buffer.readableBytes == 0)
    }

    @Test func nullArrayIsSkippedAsAnEmptyCommand() throws {
        var buffer = Wire.buffer("*-1\r\n*1\r\n$4\r\nPING\r\n")
        let null = try #require(try parser.parse(&buffer))
        #expect(null.arguments.isEmpty)
        #expect(null.name == nil)
        let next = try #require(try parser.parse(&buffer))
        #expect(Wire.strings(next) == ["PING"])
        #expect(buffer.readableBytes == 0)
    }

    @Test func emptyArrayIsAnEmptyCommand() throws {
        var buffer = Wire.buffer("*0\r\n")
        let command = try #require(try parser.parse(&buffer))
        #expect(command.arguments.isEmpty)
        #expect(buffer.readableBytes == 0)
    }

    @Test func emptyBufferNeedsMoreData() throws {
        var buffer = ByteBuffer()
        #expect(try parser.parse(&buffer) == nil)
    }
}
