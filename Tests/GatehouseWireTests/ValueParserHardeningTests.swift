import GatehouseWire
import NIOCore
import Testing

/// Replies from a hostile server (or a man in the middle) must not crash a client.
@Suite("RESP value parser hardening")
struct ValueParserHardeningTests {
    private func parse(_ text: String) throws -> RESPValue? {
        var buffer = ByteBuffer(string: text)
        return try RESPValueParser().parse(&buffer)
    }

    @Test func aChainOfAttributesIsBoundedByDepth() throws {
        let chain = String(repeating: "|0\r\n", count: 100_000) + ":1\r\n"
        #expect(throws: RESPProtocolError.self) { try parse(chain) }
        #expect(try parse("|0\r\n:1\r\n") == .integer(1))
    }

    @Test func bulkStringsOverAMebibyteAreAllowedUpToTheLimit() throws {
        let payload = String(repeating: "x", count: 2 * 1024 * 1024)
        #expect(try parse("$\(payload.utf8.count)\r\n\(payload)\r\n") == .bulkString(payload))
        var small = RESPValueParser()
        small.maxStringBytes = 10
        var buffer = ByteBuffer(string: "$11\r\nhello world\r\n")
        #expect(throws: RESPProtocolError.self) { try small.parse(&buffer) }
    }

    @Test func aBulkStringMustEndInCRLF() {
        #expect(throws: RESPProtocolError.self) { try parse("$3\r\nfooXY:1\r\n") }
    }

    @Test func negativeMapsAndNoisyNullsAreRefused() throws {
        #expect(throws: RESPProtocolError.self) { try parse("%-1\r\n") }
        #expect(throws: RESPProtocolError.self) { try parse("_junk\r\n") }
        #expect(try parse("_\r\n") == .null)
    }
}
