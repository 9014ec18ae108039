import GatehouseTestKit
import GatehouseWire
import NIOCore
import Testing

/// `VERIFY key [SCOPE s]… [COST n] [IP addr] [RID id]`: options, validation, error codes,
/// and error messages that never echo the key.
@Suite struct VerifyArgumentsTests {
    static let key = "gh_live_5ECRETkeyMATERIAL0123456789abcdef"

    static func parse(_ options: [String]) throws(CommandError) -> VerifyArguments {
        try VerifyArguments(parsing: Wire.argv(["VERIFY", key] + options))
    }

    /// The error `options` raise; checks it does not leak the key or any option value.
    static func failure(_ options: [String], sourceLocation: SourceLocation = #_sourceLocation) -> CommandError? {
        let error = Wire.commandError(sourceLocation: sourceLocation) { () throws(CommandError) in try parse(options) }
        if let error {
            for secret in [key, "5ECRET", "MATERIAL"] {
                #expect(!error.message.contains(secret), "\(error.message)", sourceLocation: sourceLocation)
                #expect(!error.description.contains(secret), sourceLocation: sourceLocation)
            }
        }
        return error
    }

    @Test func keyOnly() throws {
        let arguments = try Self.parse([])
        #expect(Wire.text(arguments.key) == Self.key)
        #expect(arguments.scopes.isEmpty)
        #expect(arguments.cost == 1)
        #expect(arguments.sourceAddress == nil)
        #expect(arguments.requestID == nil)
    }

    @Test func keyBytesAreKeptExactly() throws {
        let raw: [UInt8] = [0, 0xFF, 0x0D, 0x0A, 0x20, 0x41]
        let arguments = try VerifyArguments(parsing: [ByteBuffer(string: "VERIFY"), ByteBuffer(bytes: raw)])
        #expect(Wire.bytes(arguments.key) == raw)
    }

    @Test func allOptions() throws {
        let arguments = try Self.parse(["SCOPE", "read", "COST", "7", "IP", "203.0.113.9", "RID", "req-42", "SCOPE", "write:orders"])
        #expect(arguments.scopes == ["read", "write:orders"])
        #expect(arguments.cost == 7)
        #expect(arguments.sourceAddress.map(Wire.text) == "203.0.113.9")
        #expect(arguments.requestID == "req-42")
    }

    @Test func repeatedScopesKeepTheirOrder() throws {
        let scopes = (0..<10).map { "scope-\($0)" }
        let arguments = try Self.parse(scopes.flatMap { ["SCOPE", $0] })
        #expect(arguments.scopes == scopes)
    }

    @Test(arguments: ["scope", "Scope", "sCoPe"])
    func optionNamesAreCaseInsensitive(scope: String) throws {
        let arguments = try Self.parse([scope, "read", "cost", "3", "Ip", "::1", "rId", "r1"])
        #expect(arguments.scopes == ["read"])
        #expect(arguments.cost == 3)
        #expect(arguments.sourceAddress.map(Wire.text) == "::1")
        #expect(arguments.requestID == "r1")
    }

    @Test(arguments: ["0", "1", "000", "999999", "1000000"])
    func validCost(text: String) throws {
        #expect(try Self.parse(["COST", text]).cost == Int64(text)!)
    }

    @Test(arguments: ["", "abc", "-1", "+1", "1.5", "1e3", " 1", "1000001", "9999999999999999999", "99999999999999999999999"])
    func invalidCost(text: String) {
        #expect(Self.failure(["COST", text])?.code == .wrongArguments)
    }

    @Test func missingKey() {
        let error = Wire.commandError { () throws(CommandError) in try VerifyArguments(parsing: Wire.argv(["VERIFY"])) }
        #expect(error?.code == .wrongArguments)
        #expect(error?.description.hasPrefix("WRONGARGS ") == true)
    }

    @Test(arguments: [["SCOPE"], ["SCOPE", "read", "COST"], ["RID"], [Self.key]] as [[String]])
    func optionWithoutAValue(options: [String]) {
        #expect(Self.failure(options)?.code == .wrongArguments)
    }

    @Test(arguments: [["NOPE", "x"], ["SCOPES", "read"], ["KEY", Self.key], ["SCOPE", "read", "COSTS", "1"], [Self.key, Self.key]] as [[String]])
    func unknownOption(options: [String]) {
        #expect(Self.failure(options)?.code == .wrongArguments)
    }

    @Test func scopeCount() throws {
        let thirtyTwo = (0..<32).flatMap { ["SCOPE", "s\($0)"] }
        #expect(try Self.parse(thirtyTwo).scopes.count == VerifyArguments.maxScopes)
        let error = Self.failure(thirtyTwo + ["SCOPE", "one-too-many"])
        #expect(error?.code == .tooLarge)
        #expect(error?.description.hasPrefix("TOOLARGE ") == true)
    }

    @Test func scopeLength() throws {
        let longest = String(repeating: "s", count: VerifyArguments.maxScopeBytes)
        #expect(try Self.parse(["SCOPE", longest]).scopes == [longest])
        #expect(Self.failure(["SCOPE", longest + "s"])?.code == .wrongArguments)
        #expect(Self.failure(["SCOPE", ""])?.code == .wrongArguments)
    }

    @Test func sourceAddressLength() throws {
        let longest = String(repeating: "a", count: 64)
        #expect(try Self.parse(["IP", longest]).sourceAddress.map(Wire.text) == longest)
        #expect(Self.failure(["IP", longest + "a"])?.code == .wrongArguments)
        #expect(Self.failure(["IP", ""])?.code == .wrongArguments)
    }

    @Test func requestIDLength() throws {
        let longest = String(repeating: "r", count: VerifyArguments.maxRequestIDBytes)
        #expect(try Self.parse(["RID", longest]).requestID == longest)
        #expect(Self.failure(["RID", longest + "r"])?.code == .wrongArguments)
    }

    @Test func randomInvalidOptionListsNeverLeakTheKey() {
        var rng = SeededGenerator(seed: 0x5EC_2E7)
        let tokens = ["SCOPE", "COST", "IP", "RID", "scope", "FOO", "", "-1", "x", Self.key, String(repeating: "q", count: 200)]
        var failures = 0
        for _ in 0..<2_000 {
            let options = (0..<Int.random(in: 1...9, using: &rng)).map { _ in tokens.randomElement(using: &rng)! }
            do {
                _ = try Self.parse(options)
            } catch {
                failures += 1
                #expect(!error.message.contains(Self.key), "\(options)")
                #expect(!error.message.contains("q"), "an option value was echoed: \(options)")
                #expect(error.code == .wrongArguments || error.code == .tooLarge)
            }
        }
        #expect(failures > 1_000)
    }
}
