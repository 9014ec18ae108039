import GatehouseTestKit
import GatehouseWire
import NIOCore
import Testing

/// `writeRESPError` never lets CR or LF in a message break the reply framing.
@Suite struct ErrorReplyTests {
    @Test(arguments: [
        ("ERR plain", "-ERR plain\r\n"),
        ("ERR a\r\nb", "-ERR a  b\r\n"),
        ("ERR \n\n", "-ERR   \r\n"),
        ("\r", "- \r\n"),
        ("ERR +OK\r\n:1", "-ERR +OK  :1\r\n"),
        ("ERR ünï\rcode ✓", "-ERR ünï code ✓\r\n"),
        ("", "-\r\n"),
    ] as [(String, String)])
    func crAndLFBecomeSpaces(message: String, wire: String) throws {
        var buffer = ByteBuffer()
        buffer.writeRESPError(message)
        #expect(Wire.text(buffer) == wire)
        var parsed = buffer
        #expect(try RESPValueParser().parse(&parsed) == .error(String(decoding: Array(wire.utf8).dropFirst().dropLast(2), as: UTF8.self)))
        #expect(parsed.readableBytes == 0)
    }

    @Test func randomMessagesStayOneLine() throws {
        var rng = SeededGenerator(seed: 0xE220_2)
        let alphabet = Array("ERR abc\r\n\r\n:+-$*é".utf8)
        for _ in 0..<1_000 {
            let message = String(decoding: rng.bytes(0...30, from: alphabet), as: UTF8.self)
            var buffer = ByteBuffer()
            buffer.writeRESPError(message)
            let bytes = Wire.bytes(buffer)
            #expect(bytes.count == message.utf8.count + 3)
            #expect(bytes.first == UInt8(ascii: "-"))
            #expect(bytes.suffix(2) == [0x0D, 0x0A])
            #expect(!bytes.dropLast(2).contains(0x0D) && !bytes.dropLast(2).contains(0x0A), "\(message.debugDescription)")
            // Followed by another reply, the framing stays in step.
            buffer.writeRESPInteger(7)
            let parser = RESPValueParser()
            #expect(try parser.parse(&buffer) == .error(String(decoding: bytes.dropFirst().dropLast(2), as: UTF8.self)))
            #expect(try parser.parse(&buffer) == .integer(7))
        }
    }
}
