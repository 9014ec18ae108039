import GatehouseCore
import GatehouseTestKit
import Testing

@Suite("API key format and checksum")
struct APIKeyFormatTests {
    static let prefixes = ["gk", "a", "acme", "x9", "0123456789abcdef"]

    @Test("generated keys from many seeds are well-formed, prefixed and the right length", arguments: prefixes)
    func generatedKeysAreWellFormed(prefix: String) {
        var seen = Set<String>()
        for seed in UInt64(0)..<300 {
            var rng = SeededGenerator(seed: seed)
            let key = APIKeyFormat.generate(prefix: prefix, using: &rng)
            #expect(key.utf8.count == prefix.utf8.count + 1 + 36)
            #expect(key.hasPrefix(prefix + "_"))
            #expect(key.utf8.dropFirst(prefix.utf8.count + 1).allSatisfy { Base62.value(of: $0) != nil })
            #expect(APIKeyFormat.isWellFormed(key), "seed \(seed): \(key)")
            seen.insert(key)
        }
        #expect(seen.count == 300, "every seed gives a different key")
    }

    @Test("the same seed gives the same key; the generator advances between keys")
    func generationIsDeterministic() {
        var a = SeededGenerator(seed: 42)
        var b = SeededGenerator(seed: 42)
        let first = APIKeyFormat.generate(prefix: "gk", using: &a)
        #expect(first == APIKeyFormat.generate(prefix: "gk", using: &b))
        #expect(first != APIKeyFormat.generate(prefix: "gk", using: &a))
    }

    @Test("every single-byte substitution of a generated key is rejected", arguments: [UInt64(1), 2, 3, 77, 1234])
    func everySubstitutionIsRejected(seed: UInt64) {
        var rng = SeededGenerator(seed: seed)
        for prefix in Self.prefixes {
            let key = APIKeyFormat.generate(prefix: prefix, using: &rng)
            let original = Array(key.utf8)
            var accepted: [String] = []
            for position in original.indices {
                for byte in UInt8.min...UInt8.max where byte != original[position] {
                    var mutated = original
                    mutated[position] = byte
                    let ok = mutated.withUnsafeBytes { APIKeyFormat.isWellFormed($0) }
                    if ok { accepted.append("position \(position) -> \(byte)") }
                }
            }
            #expect(accepted.isEmpty, "\(key): \(accepted.prefix(5))")
            // The untouched key still passes through the same entry point.
            #expect(original.withUnsafeBytes { APIKeyFormat.isWellFormed($0) })
        }
    }

    @Test("adjacent transpositions of different characters are rejected")
    func transpositionsAreRejected() {
        var rng = SeededGenerator(seed: 9)
        for _ in 0..<50 {
            let key = Array(APIKeyFormat.generate(prefix: "gk", using: &rng).utf8)
            for position in 0..<(key.count - 1) where key[position] != key[position + 1] {
                var mutated = key
                mutated.swapAt(position, position + 1)
                #expect(!mutated.withUnsafeBytes { APIKeyFormat.isWellFormed($0) })
            }
        }
    }

    @Test("forged keys with a correct checksum are accepted (sanity for the negative cases)")
    func forgeryHelperProducesWellFormedKeys() {
        let key = Fixture.forge("gk_" + Fixture.randomDigits(30, seed: 5))
        #expect(APIKeyFormat.isWellFormed(key))
        #expect(APIKeyFormat.isWellFormed(Fixture.forge("0123456789abcdef_" + Fixture.randomDigits(30, seed: 5))))
    }

    @Test("wrong lengths are rejected even with a correct checksum", arguments: [0, 1, 29, 31, 35, 60])
    func wrongBodyLengths(randomLength: Int) {
        let key = Fixture.forge("gk_" + Fixture.randomDigits(randomLength, seed: 11))
        #expect(!APIKeyFormat.isWellFormed(key), "\(key)")
    }

    @Test("truncated, extended and empty keys are rejected")
    func truncatedAndExtended() {
        var rng = SeededGenerator(seed: 3)
        let key = APIKeyFormat.generate(prefix: "gk", using: &rng)
        #expect(!APIKeyFormat.isWellFormed(String(key.dropLast())))
        #expect(!APIKeyFormat.isWellFormed(String(key.dropFirst())))
        #expect(!APIKeyFormat.isWellFormed(key + "0"))
        #expect(!APIKeyFormat.isWellFormed("0" + key))
        #expect(!APIKeyFormat.isWellFormed(""))
        #expect(!APIKeyFormat.isWellFormed("_"))
        #expect(!APIKeyFormat.isWellFormed(String(repeating: "a", count: 200)))
    }

    @Test("a 17-character prefix or an empty prefix is rejected even with a correct checksum")
    func prefixLengthBounds() {
        let body = Fixture.randomDigits(30, seed: 21)
        #expect(APIKeyFormat.isWellFormed(Fixture.forge(String(repeating: "a", count: 16) + "_" + body)))
        #expect(!APIKeyFormat.isWellFormed(Fixture.forge(String(repeating: "a", count: 17) + "_" + body)))
        #expect(!APIKeyFormat.isWellFormed(Fixture.forge("_" + body)))
    }

    @Test("bad prefix characters are rejected even with a correct checksum", arguments: ["GK", "Gk", "g-k", "g k", "g.k", "g_k", "ü"])
    func badPrefixCharacters(prefix: String) {
        let key = Fixture.forge(prefix + "_" + Fixture.randomDigits(30, seed: 31))
        #expect(!APIKeyFormat.isWellFormed(key), "\(key)")
    }

    @Test("a missing or replaced underscore is rejected even with a correct checksum", arguments: ["-", ".", "0", "a", ""])
    func missingUnderscore(separator: String) {
        let key = Fixture.forge("gk" + separator + Fixture.randomDigits(30, seed: 41))
        #expect(!APIKeyFormat.isWellFormed(key), "\(key)")
    }

    @Test("non-base62 characters in the random part are rejected even with a correct checksum", arguments: ["-", "_", "+", "/", "="])
    func nonBase62Body(bad: String) {
        let digits = Fixture.randomDigits(29, seed: 51)
        let key = Fixture.forge("gk_" + bad + digits)
        #expect(!APIKeyFormat.isWellFormed(key), "\(key)")
    }

    @Test("a checksum whose value overflows 32 bits is rejected")
    func oversizedChecksum() {
        #expect(!APIKeyFormat.isWellFormed("gk_" + Fixture.randomDigits(30, seed: 61) + "zzzzzz"))
    }

    @Test("prefix validation: 1 to 16 of [a-z0-9]")
    func prefixValidation() {
        for good in ["a", "z", "0", "9", "gk", "acme", "abcdefghijklmnop", "0123456789abcdef"] {
            #expect(APIKeyFormat.isValidPrefix(good), "\(good)")
        }
        for bad in ["", "abcdefghijklmnopq", "GK", "gK", "g_k", "g-k", " gk", "gk ", "é", "g\u{0}k"] {
            #expect(!APIKeyFormat.isValidPrefix(bad), "\(bad)")
        }
    }

    @Test("display start is the prefix, the underscore and four random characters")
    func displayStart() {
        var rng = SeededGenerator(seed: 8)
        let key = APIKeyFormat.generate(prefix: "acme", using: &rng)
        let start = APIKeyFormat.displayStart(of: key)
        #expect(start == String(key.prefix(9)))
        #expect(start.hasPrefix("acme_"))
        #expect(start.utf8.count == "acme_".utf8.count + 4)
        #expect(APIKeyFormat.displayStart(of: "nounderscore") == "")
    }

    @Test("length constants match the documented format")
    func constants() {
        #expect(APIKeyFormat.bodyLength == 36)
        #expect(APIKeyFormat.maxKeyLength == 53)
        #expect(APIKeyFormat.defaultPrefix == "gk")
    }
}
