import GatehouseWire
import NIOCore
import Testing

/// `GatehouseCommandName.identify`, `equalsIgnoringASCIICase` and `decimalValue`.
@Suite struct CommandNameTests {
    static let spellings: [(String, GatehouseCommandName)] = [
        ("VERIFY", .verify), ("THROTTLE", .throttle), ("PING", .ping), ("HELLO", .hello), ("AUTH", .auth),
        ("INFO", .info), ("QUIT", .quit), ("COMMAND", .command), ("CLIENT", .client), ("SELECT", .select),
        ("CONFIG", .config),
    ]

    @Test func everyCommandIsSpelledOut() {
        #expect(Self.spellings.count == GatehouseCommandName.allCases.count)
    }

    @Test func identifyIgnoresCase() {
        for (spelling, name) in Self.spellings {
            let mixed = String(spelling.enumerated().map { $0.offset % 2 == 0 ? Character($0.element.lowercased()) : $0.element })
            for variant in [spelling, spelling.lowercased(), mixed] {
                #expect(GatehouseCommandName.identify(ByteBuffer(string: variant)) == name, "\(variant)")
            }
        }
    }

    @Test(arguments: ["", "VERIF", "VERIFYX", " VERIFY", "VERIFY ", "PONG", "VER\u{0}FY", "ping\r\n", "PİNG"])
    func unknownNames(text: String) {
        #expect(GatehouseCommandName.identify(ByteBuffer(string: text)) == nil)
    }

    @Test func identifyReadsOnlyTheReadableBytes() throws {
        var buffer = Wire.buffer("*2\r\n$4\r\nping\r\n$4\r\nauth\r\n")
        let command = try #require(try RESPCommandParser().parse(&buffer))
        #expect(command.name.flatMap(GatehouseCommandName.identify) == .ping)
        #expect(GatehouseCommandName.identify(command.arguments[1]) == .auth)
        var offset = ByteBuffer(string: "xxQuitxx")
        offset.moveReaderIndex(forwardBy: 2)
        offset.moveWriterIndex(to: 6)
        #expect(GatehouseCommandName.identify(offset) == .quit)
    }

    @Test func caseFoldingIsOnlyForLetters() {
        // Bytes 0x20 apart that are not ASCII letters must not match.
        #expect(!ByteBuffer(string: "{").equalsIgnoringASCIICase("["))
        #expect(!ByteBuffer(string: "`").equalsIgnoringASCIICase("@"))
        #expect(!ByteBuffer(bytes: [0xE9]).equalsIgnoringASCIICase("\u{C9}"))
        #expect(!ByteBuffer(string: "é").equalsIgnoringASCIICase("É"))
        #expect(ByteBuffer(string: "cost").equalsIgnoringASCIICase("COST"))
        #expect(ByteBuffer(string: "").equalsIgnoringASCIICase(""))
        #expect(!ByteBuffer(string: "COS").equalsIgnoringASCIICase("COST"))
    }

    @Test(arguments: [
        ("0", 0), ("7", 7), ("007", 7), ("1000000", 1_000_000), ("999999999999999999", 999_999_999_999_999_999),
    ] as [(String, Int64)])
    func decimal(text: String, value: Int64) {
        #expect(ByteBuffer(string: text).decimalValue() == value)
    }

    @Test(arguments: [
        "", "-1", "+1", " 1", "1 ", "1a", "0x10", "1.0", "1e3", "١", "１",
        "9223372036854775807", "9223372036854775808", "99999999999999999999", String(repeating: "9", count: 64),
    ])
    func notADecimal(text: String) {
        #expect(ByteBuffer(string: text).decimalValue() == nil)
    }

    @Test func decimalReadsOnlyTheReadableBytes() {
        var buffer = ByteBuffer(string: "xx42")
        buffer.moveReaderIndex(forwardBy: 2)
        #expect(buffer.decimalValue() == 42)
        var big = ByteBuffer(string: "1" + "123")
        big.moveReaderIndex(forwardBy: 1)
        #expect(big.decimalValue() == 123)
    }
}
