import Crypto
import Foundation
import GatehouseCore
import GatehouseTestKit
import Testing

@Suite("Lookup hash: HMAC-SHA256(pepper, key)")
struct LookupHasherTests {
    /// RFC 4231 test cases 6 and 7 (the only ones whose key is at least 32 bytes).
    static let rfcKey = [UInt8](repeating: 0xAA, count: 131)

    @Test("matches RFC 4231 HMAC-SHA256 test case 6")
    func rfc4231Case6() {
        let hasher = LookupHasher(pepper: Self.rfcKey)
        #expect(
            hasher.hash("Test Using Larger Than Block-Size Key - Hash Key First").hex
                == "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        )
    }

    @Test("matches RFC 4231 HMAC-SHA256 test case 7")
    func rfc4231Case7() {
        let hasher = LookupHasher(pepper: Self.rfcKey)
        let data = "This is a test using a larger than block-size key and a larger than block-size data. "
            + "The key needs to be hashed before being used by the HMAC algorithm."
        #expect(hasher.hash(data).hex == "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2")
    }

    /// Lookup hashes are persisted and gossiped: the hasher over OpenSSL's SHA-256 must give
    /// exactly what swift-crypto's `HMAC<SHA256>` (the hasher before it) gives, for peppers
    /// shorter than, equal to and longer than SHA-256's 64-byte block, and keys from empty to
    /// several blocks long.
    @Test("equals swift-crypto's HMAC<SHA256> on random peppers and keys")
    func equalsSwiftCryptoHMAC() {
        var rng = SeededGenerator(seed: 14)
        let pepperLengths = [32, 33, 55, 56, 63, 64, 65, 100, 128, 129, 200]
        for pepperLength in pepperLengths {
            for _ in 0..<8 {
                let pepper = (0..<pepperLength).map { _ in UInt8.random(in: 0...255, using: &rng) }
                let hasher = LookupHasher(pepper: pepper)
                let reference = HMAC<SHA256>(key: SymmetricKey(data: pepper))
                for keyLength in [0, 1, 20, 41, 55, 56, 63, 64, 65, 119, 120, 128, 300, Int.random(in: 0...500, using: &rng)] {
                    let key = (0..<keyLength).map { _ in UInt8.random(in: 0...255, using: &rng) }
                    var mac = reference
                    mac.update(data: key)
                    let expected = LookupHash(bytes: Array(mac.finalize()))
                    let actual = key.withUnsafeBytes { hasher.hash($0) }
                    #expect(actual == expected, "pepper \(pepperLength) bytes, key \(keyLength) bytes")
                }
            }
        }
    }

    @Test("generated keys hash as swift-crypto's HMAC<SHA256> hashes them")
    func generatedKeysEqualSwiftCryptoHMAC() {
        var rng = SeededGenerator(seed: 15)
        let reference = HMAC<SHA256>(key: SymmetricKey(data: Fixture.pepper))
        for _ in 0..<500 {
            let key = APIKeyFormat.generate(prefix: "gk", using: &rng)
            var mac = reference
            mac.update(data: Array(key.utf8))
            #expect(Fixture.hasher.hash(key) == LookupHash(bytes: Array(mac.finalize())))
        }
    }

    @Test("hashing is repeatable: the keyed state is not consumed by a call")
    func repeatable() {
        var rng = SeededGenerator(seed: 4)
        let keys = (0..<20).map { _ in APIKeyFormat.generate(prefix: "gk", using: &rng) }
        let first = keys.map { Fixture.hasher.hash($0) }
        let second = keys.map { Fixture.hasher.hash($0) }
        #expect(first == second)
        #expect(Set(first).count == keys.count, "distinct keys hash differently")
    }

    @Test("the String and raw-byte entry points agree")
    func entryPointsAgree() {
        let key = "gk_abc"
        let viaBytes = Array(key.utf8).withUnsafeBytes { Fixture.hasher.hash($0) }
        #expect(viaBytes == Fixture.hasher.hash(key))
    }

    @Test("a different pepper gives a different hash for the same key")
    func pepperMatters() {
        var other = Fixture.pepper
        other[0] ^= 1
        #expect(LookupHasher(pepper: other).hash("gk_same") != Fixture.hasher.hash("gk_same"))
    }

    @Test("hex and byte forms round-trip")
    func hexRoundTrip() throws {
        let hash = Fixture.hasher.hash("gk_round_trip")
        #expect(hash.hex.utf8.count == 64)
        #expect(hash.bytes.count == 32)
        #expect(LookupHash(hex: hash.hex) == hash)
        #expect(LookupHash(hex: hash.hex.uppercased()) == hash)
        #expect(LookupHash(bytes: hash.bytes) == hash)
        let words = try #require(LookupHash(hex: "0001020304050607" + "08090a0b0c0d0e0f" + "1011121314151617" + "18191a1b1c1d1e1f"))
        #expect(words.w0 == 0x0001_0203_0405_0607)
        #expect(words.w3 == 0x1819_1A1B_1C1D_1E1F)
    }

    @Test("malformed hex and wrong byte counts are refused")
    func malformedHex() {
        let hex = Fixture.hasher.hash("x").hex
        #expect(LookupHash(hex: String(hex.dropLast())) == nil)
        #expect(LookupHash(hex: hex + "0") == nil)
        #expect(LookupHash(hex: "g" + hex.dropFirst()) == nil)
        #expect(LookupHash(bytes: [UInt8](repeating: 0, count: 31)) == nil)
        #expect(LookupHash(bytes: [UInt8](repeating: 0, count: 33)) == nil)
    }

    @Test("the description does not print the whole hash")
    func descriptionIsShort() {
        let hash = Fixture.hasher.hash("gk_secretish")
        #expect(!hash.description.contains(hash.hex))
        #expect(hash.description.contains(String(hash.hex.prefix(8))))
    }

    @Test("encodes as a JSON hex string and decodes back")
    func codable() throws {
        let hash = Fixture.hasher.hash("gk_json")
        let data = try JSONEncoder().encode([hash])
        #expect(String(decoding: data, as: UTF8.self) == "[\"\(hash.hex)\"]")
        #expect(try JSONDecoder().decode([LookupHash].self, from: data) == [hash])
        #expect(throws: DecodingError.self) { try JSONDecoder().decode([LookupHash].self, from: Data("[\"abc\"]".utf8)) }
    }
}
