import GatehouseWire
import NIOCore
import Testing

/// `THROTTLE bucket limit window_ms [COST n]`: arity and value validation.
@Suite struct ThrottleArgumentsTests {
    static func parse(_ arguments: [String]) throws(CommandError) -> ThrottleArguments {
        try ThrottleArguments(parsing: Wire.argv(["THROTTLE"] + arguments))
    }

    static func code(_ arguments: [String], sourceLocation: SourceLocation = #_sourceLocation) -> CommandError.Code? {
        Wire.commandError(sourceLocation: sourceLocation) { () throws(CommandError) in try parse(arguments) }?.code
    }

    @Test func required() throws {
        let arguments = try Self.parse(["login:203.0.113.9", "5", "60000"])
        #expect(arguments.bucket == "login:203.0.113.9")
        #expect(arguments.limit == 5)
        #expect(arguments.windowMs == 60_000)
        #expect(arguments.cost == 1)
    }

    @Test(arguments: ["COST", "cost", "CoSt"])
    func withCost(option: String) throws {
        let arguments = try Self.parse(["b", "10", "1000", option, "4"])
        #expect(arguments.cost == 4)
        #expect(try Self.parse(["b", "10", "1000", option, "0"]).cost == 0)
        #expect(try Self.parse(["b", "10", "1000", option, "1000000"]).cost == 1_000_000)
    }

    @Test(arguments: [[], ["b"], ["b", "10"], ["b", "10", "1000", "COST"], ["b", "10", "1000", "COST", "1", "x"]] as [[String]])
    func arity(arguments: [String]) {
        #expect(Self.code(arguments) == .wrongArguments)
    }

    @Test func bucketLength() throws {
        let longest = String(repeating: "b", count: ThrottleArguments.maxBucketBytes)
        #expect(try Self.parse([longest, "1", "1"]).bucket == longest)
        #expect(Self.code([longest + "b", "1", "1"]) == .wrongArguments)
        #expect(Self.code(["", "1", "1"]) == .wrongArguments)
    }

    @Test(arguments: ["0", "-1", "", "x", "1.0", "99999999999999999999"])
    func invalidLimit(limit: String) {
        #expect(Self.code(["b", limit, "1000"]) == .wrongArguments)
    }

    @Test func window() throws {
        let max = ThrottleArguments.maxWindowMs
        #expect(max == 366 * 24 * 3_600_000)
        #expect(try Self.parse(["b", "1", "1"]).windowMs == 1)
        #expect(try Self.parse(["b", "1", "\(max)"]).windowMs == max)
        for invalid in ["0", "\(max + 1)", "-5", "1s", ""] {
            #expect(Self.code(["b", "1", invalid]) == .wrongArguments, "window \(invalid)")
        }
    }

    @Test func invalidCostOption() {
        #expect(Self.code(["b", "1", "1", "LIMIT", "1"]) == .wrongArguments)
        #expect(Self.code(["b", "1", "1", "COST", "1000001"]) == .wrongArguments)
        #expect(Self.code(["b", "1", "1", "COST", "-1"]) == .wrongArguments)
        #expect(Self.code(["b", "1", "1", "COST", "many"]) == .wrongArguments)
    }

    @Test func errorDescriptionStartsWithTheCode() {
        let error = Wire.commandError { () throws(CommandError) in try Self.parse(["b"]) }
        #expect(error?.description.hasPrefix("WRONGARGS ") == true)
        #expect(CommandError(.tooLarge, "x").description == "TOOLARGE x")
    }
}
