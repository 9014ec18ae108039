import GatehouseTestKit
import GatehouseWire
import NIOCore
import Testing

/// `RESPValueParser` reads back everything the `ByteBuffer.writeRESP…` methods write, in
/// both protocol versions, and `RESPValue.fields` reads both map shapes.
@Suite struct ValueRoundTripTests {
    @Test(arguments: ["OK", "", "PONG", "héllo wörld ✓", "with spaces and : $ * chars"])
    func simpleString(text: String) throws {
        var expected = ByteBuffer()
        expected.writeString("+\(text)\r\n")
        var written = ByteBuffer()
        written.writeRESPSimpleString(text)
        #expect(written == expected)
        #expect(try Wire.roundTrip { $0.writeRESPSimpleString(text) } == .simpleString(text))
    }

    @Test(arguments: ["ERR unknown command", "WRONGARGS COST must be an integer", "NOAUTH", "-"])
    func error(line: String) throws {
        #expect(try Wire.roundTrip { $0.writeRESPError(line) } == .error(line))
    }

    @Test(arguments: [0, 1, 9, 10, 11, 99, 100, -1, -9, -10, 1_000_000, Int64.max, Int64.min] as [Int64])
    func integer(value: Int64) throws {
        var written = ByteBuffer()
        written.writeRESPInteger(value)
        #expect(Wire.text(written) == ":\(value)\r\n")
        #expect(try Wire.roundTrip { $0.writeRESPInteger(value) } == .integer(value))
    }

    @Test(arguments: ["", "x", "VERIFY", "a\r\nb", "\r\n", "$3\r\nfoo\r\n", "ünïcödé ✓", String(repeating: "z", count: 70_000)])
    func bulkString(text: String) throws {
        var written = ByteBuffer()
        written.writeRESPBulkString(text)
        #expect(Wire.text(written).hasPrefix("$\(text.utf8.count)\r\n"))
        #expect(try Wire.roundTrip { $0.writeRESPBulkString(text) } == .bulkString(text))
        let bytes = ByteBuffer(string: text)
        #expect(try Wire.roundTrip { $0.writeRESPBulkString(bytes: bytes) } == .bulkString(text))
    }

    @Test func bulkStringFromASliceWritesOnlyTheReadableBytes() throws {
        var source = ByteBuffer(string: "prefix-KEY-suffix")
        source.moveReaderIndex(forwardBy: 7)
        let slice = source.readSlice(length: 3)!
        var written = ByteBuffer()
        written.writeRESPBulkString(bytes: slice)
        #expect(Wire.text(written) == "$3\r\nKEY\r\n")
    }

    @Test func null() throws {
        var v2 = ByteBuffer()
        v2.writeRESPNull(.v2)
        #expect(Wire.text(v2) == "$-1\r\n")
        var v3 = ByteBuffer()
        v3.writeRESPNull(.v3)
        #expect(Wire.text(v3) == "_\r\n")
        #expect(try Wire.roundTrip { $0.writeRESPNull(.v2) } == .null)
        #expect(try Wire.roundTrip { $0.writeRESPNull(.v3) } == .null)
    }

    @Test func boolean() throws {
        #expect(try Wire.roundTrip { $0.writeRESPBoolean(true, .v3) } == .boolean(true))
        #expect(try Wire.roundTrip { $0.writeRESPBoolean(false, .v3) } == .boolean(false))
        // RESP2 has no booleans: 1 and 0, as Redis replies.
        #expect(try Wire.roundTrip { $0.writeRESPBoolean(true, .v2) } == .integer(1))
        #expect(try Wire.roundTrip { $0.writeRESPBoolean(false, .v2) } == .integer(0))
    }

    @Test func optionals() throws {
        for version in [RESPVersion.v2, .v3] {
            #expect(try Wire.roundTrip { $0.writeRESPOptionalInteger(42, version) } == .integer(42))
            #expect(try Wire.roundTrip { $0.writeRESPOptionalInteger(nil, version) } == .null)
            #expect(try Wire.roundTrip { $0.writeRESPOptionalBulkString("k1", version) } == .bulkString("k1"))
            #expect(try Wire.roundTrip { $0.writeRESPOptionalBulkString(nil, version) } == .null)
        }
    }

    @Test func arrays() throws {
        let empty = try Wire.roundTrip { $0.writeRESPArrayHeader(count: 0) }
        #expect(empty == .array([]))
        let nested = try Wire.roundTrip { buffer in
            buffer.writeRESPArrayHeader(count: 4)
            buffer.writeRESPBulkString("a")
            buffer.writeRESPInteger(-7)
            buffer.writeRESPArrayHeader(count: 2)
            buffer.writeRESPNull(.v3)
            buffer.writeRESPSimpleString("OK")
            buffer.writeRESPError("ERR nested")
        }
        #expect(nested == .array([.bulkString("a"), .integer(-7), .array([.null, .simpleString("OK")]), .error("ERR nested")]))
    }

    static func writeMap(_ buffer: inout ByteBuffer, _ version: RESPVersion) {
        buffer.writeRESPMapHeader(count: 3, version)
        buffer.writeRESPBulkString("name")
        buffer.writeRESPBulkString("gatehouse")
        buffer.writeRESPBulkString("count")
        buffer.writeRESPInteger(3)
        buffer.writeRESPBulkString("missing")
        buffer.writeRESPNull(version)
    }

    @Test func mapV2IsAFlatArray() throws {
        let value = try Wire.roundTrip { Self.writeMap(&$0, .v2) }
        #expect(value == .array([
            .bulkString("name"), .bulkString("gatehouse"), .bulkString("count"), .integer(3), .bulkString("missing"), .null,
        ]))
        #expect(value.fields == ["name": .bulkString("gatehouse"), "count": .integer(3), "missing": .null])
    }

    @Test func mapV3IsAMap() throws {
        let value = try Wire.roundTrip { Self.writeMap(&$0, .v3) }
        #expect(value == .map([
            .init(key: .bulkString("name"), value: .bulkString("gatehouse")),
            .init(key: .bulkString("count"), value: .integer(3)),
            .init(key: .bulkString("missing"), value: .null),
        ]))
        #expect(value.fields == ["name": .bulkString("gatehouse"), "count": .integer(3), "missing": .null])
    }

    @Test func emptyMaps() throws {
        #expect(try Wire.roundTrip { $0.writeRESPMapHeader(count: 0, .v2) } == .array([]))
        #expect(try Wire.roundTrip { $0.writeRESPMapHeader(count: 0, .v3) } == .map([]))
        #expect(RESPValue.array([]).fields == [:])
        #expect(RESPValue.map([]).fields == [:])
    }

    @Test func fieldsRefusesWhatIsNotAMap() {
        #expect(RESPValue.array([.bulkString("a")]).fields == nil, "odd count")
        #expect(RESPValue.array([.integer(1), .bulkString("a")]).fields == nil, "non-string key")
        #expect(RESPValue.map([.init(key: .null, value: .integer(1))]).fields == nil, "non-string key")
        #expect(RESPValue.bulkString("a").fields == nil)
        #expect(RESPValue.null.fields == nil)
        #expect(RESPValue.array([.simpleString("k"), .integer(1)]).fields == ["k": .integer(1)], "simple strings are keys too")
    }

    @Test func accessors() {
        #expect(RESPValue.simpleString("a").string == "a")
        #expect(RESPValue.bulkString("b").string == "b")
        #expect(RESPValue.error("c").string == nil)
        #expect(RESPValue.integer(5).string == nil)
        #expect(RESPValue.integer(5).integer == 5)
        #expect(RESPValue.bulkString("5").integer == nil)
    }

    /// Replies other servers send and the client must still read: RESP2 null arrays and the
    /// RESP3 types the writer never produces.
    @Test(arguments: [
        ("*-1\r\n", .null),
        ("$-1\r\n", .null),
        (",3.5\r\n", .double(3.5)),
        (",-inf\r\n", .double(-.infinity)),
        ("~2\r\n:1\r\n:2\r\n", .set([.integer(1), .integer(2)])),
        (">2\r\n+invalidate\r\n*0\r\n", .push([.simpleString("invalidate"), .array([])])),
        ("!9\r\nERR oops!\r\n", .error("ERR oops!")),
        ("%1\r\n+k\r\n#f\r\n", .map([.init(key: .simpleString("k"), value: .boolean(false))])),
        ("|1\r\n+ttl\r\n:3600\r\n+OK\r\n", .simpleString("OK")),
    ] as [(String, RESPValue)])
    func otherReplyTypes(wire: String, expected: RESPValue) throws {
        var buffer = Wire.buffer(wire + ":9\r\n")
        let parser = RESPValueParser()
        #expect(try parser.parse(&buffer) == expected)
        #expect(try parser.parse(&buffer) == .integer(9), "the next reply starts right after")
    }

    @Test(arguments: ["?\r\n", ":12x\r\n", "#x\r\n", ",abc\r\n", "+OK\n", "$abc\r\n", "*-2\r\n"])
    func malformedReplies(wire: String) {
        var buffer = Wire.buffer(wire)
        let error = Wire.protocolError { () throws(RESPProtocolError) in try RESPValueParser().parse(&buffer) }
        #expect(error?.code == .malformed)
    }

    @Test func nestingDeeperThanMaxDepthIsRefused() throws {
        var parser = RESPValueParser()
        parser.maxDepth = 3
        var ok = Wire.buffer("*1\r\n*1\r\n*1\r\n:1\r\n")
        #expect(try parser.parse(&ok) == .array([.array([.array([.integer(1)])])]))
        var deep = Wire.buffer("*1\r\n*1\r\n*1\r\n*1\r\n:1\r\n")
        let error = Wire.protocolError { () throws(RESPProtocolError) in try parser.parse(&deep) }
        #expect(error?.code == .tooLarge)
    }

    /// A random value the writer can produce, written in `version`, with what should be read.
    static func randomValue(_ rng: inout SeededGenerator, _ version: RESPVersion, depth: Int = 0) -> (write: (inout ByteBuffer) -> Void, expected: RESPValue) {
        let text = String(decoding: rng.bytes(0...12, from: Array("abcXYZ019 \r\n:$*-_+é".utf8)), as: UTF8.self)
        let simple = text.filter { $0 != "\r" && $0 != "\n" && $0 != "\r\n" }
        let choice = Int.random(in: 0..<(depth < 3 ? 9 : 6), using: &rng)
        switch choice {
        case 0: return ({ $0.writeRESPSimpleString(simple) }, .simpleString(simple))
        case 1: return ({ $0.writeRESPError(simple) }, .error(simple))
        case 2:
            let value = Int64.random(in: Int64.min...Int64.max, using: &rng) >> UInt64.random(in: 0..<64, using: &rng)
            return ({ $0.writeRESPInteger(value) }, .integer(value))
        case 3: return ({ $0.writeRESPBulkString(text) }, .bulkString(text))
        case 4: return ({ $0.writeRESPNull(version) }, .null)
        case 5:
            let flag = Bool.random(using: &rng)
            return ({ $0.writeRESPBoolean(flag, version) }, version == .v3 ? .boolean(flag) : .integer(flag ? 1 : 0))
        case 6, 7:
            let items = (0..<Int.random(in: 0...4, using: &rng)).map { _ in randomValue(&rng, version, depth: depth + 1) }
            return ({ buffer in
                buffer.writeRESPArrayHeader(count: items.count)
                for item in items { item.write(&buffer) }
            }, .array(items.map(\.expected)))
        default:
            let pairs = (0..<Int.random(in: 0...3, using: &rng)).map { index in
                ("k\(index)", randomValue(&rng, version, depth: depth + 1))
            }
            let expected: RESPValue = version == .v3
                ? .map(pairs.map { .init(key: .bulkString($0.0), value: $0.1.expected) })
                : .array(pairs.flatMap { [.bulkString($0.0), $0.1.expected] })
            return ({ buffer in
                buffer.writeRESPMapHeader(count: pairs.count, version)
                for (key, value) in pairs {
                    buffer.writeRESPBulkString(key)
                    value.write(&buffer)
                }
            }, expected)
        }
    }

    @Test func randomValuesRoundTripWholeAndByteByByte() throws {
        var rng = SeededGenerator(seed: 0x7A1_0E5)
        let parser = RESPValueParser()
        for round in 0..<500 {
            let version: RESPVersion = round % 2 == 0 ? .v2 : .v3
            let values = (0..<Int.random(in: 1...3, using: &rng)).map { _ in Self.randomValue(&rng, version) }
            var all = ByteBuffer()
            for value in values { value.write(&all) }
            let expected = values.map(\.expected)

            var whole = all
            var parsed: [RESPValue] = []
            while let value = try parser.parse(&whole) { parsed.append(value) }
            #expect(parsed == expected)
            #expect(whole.readableBytes == 0)

            // Fed one byte at a time, `nil` consumes nothing and the same values come out.
            var incremental = ByteBuffer()
            var fed: [RESPValue] = []
            for byte in all.readableBytesView {
                incremental.writeInteger(byte)
                while true {
                    let readerIndex = incremental.readerIndex
                    guard let value = try parser.parse(&incremental) else {
                        #expect(incremental.readerIndex == readerIndex)
                        break
                    }
                    fed.append(value)
                }
            }
            #expect(fed == expected)
        }
    }
}
