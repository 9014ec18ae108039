import GatehouseWire
import NIOCore
import Testing

@Suite("Inline command length limit")
struct InlineLimitTests {
    @Test(arguments: ["\n", "\r\n"])
    func aLineOfExactlyTheLimitIsAcceptedWithEitherEnding(ending: String) throws {
        let parser = RESPCommandParser(limits: RESPLimits(maxInlineBytes: 16))
        var exact = ByteBuffer(string: String(repeating: "a", count: 16) + ending)
        #expect(try parser.parse(&exact)?.arguments.count == 1)
        var over = ByteBuffer(string: String(repeating: "a", count: 17) + ending)
        #expect(throws: RESPProtocolError.self) { try parser.parse(&over) }
    }
}
