import Foundation
import GatehouseCore
import GatehouseTestKit
import Testing

@Suite("Key import")
struct KeyImportTests {
    /// Imports one key into the harness's gatekeeper.
    private func importKey(
        _ harness: inout Harness, _ secret: ImportedSecret, draft: KeyDraft = KeyDraft(owner: "acct_1")
    ) throws -> (record: KeyRecord, secret: String?) {
        let imported = try KeyLifecycle.importKey(
            draft, secret: secret, defaultLimits: [], hasher: Fixture.hasher, nowMs: Fixture.t0,
            version: harness.clock.tick(nowMs: Fixture.t0), using: &harness.rng)
        harness.keeper.apply(imported.record)
        return imported
    }

    private static func sha256Hex(_ text: String) -> String {
        var text = text
        return text.withUTF8 { ImportedKeyFormat.sha256(UnsafeRawBufferPointer($0)) }.hex
    }

    @Test func aForeignKeyStringVerifiesAsItIsAndOnlyOnceImportsExist() throws {
        var harness = Harness()
        let foreign = "sk_live_51HxQv2eZvKYlo2C0aBcDeFgHiJk"
        #expect(harness.verify(foreign).code == .malformed)
        let imported = try importKey(&harness, .key(foreign))
        #expect(imported.secret == nil)
        #expect(imported.record.secretForm == .foreign)
        #expect(imported.record.start == "sk_l")
        #expect(harness.verify(foreign).code == .valid)
        #expect(harness.verify(foreign).keyID == imported.record.id)
        // Now a string of that shape is worth a lookup: unknown, not malformed.
        #expect(harness.verify("sk_live_51HxQv2eZvKYlo2C0aBcDeFgHiJK").code == .notFound)
        #expect(harness.verify("short").code == .malformed)
        #expect(harness.verify("has spaces in it, so not a key").code == .malformed)
    }

    @Test func aKeyImportedByItsSHA256VerifiesByItsPlaintext() throws {
        var harness = Harness()
        let plaintext = "acme-7f3d9c2b1a0e4f5d6c7b8a9"
        let digest = try #require(LookupHash(hex: Self.sha256Hex(plaintext)))
        let imported = try importKey(&harness, .sha256(digest, start: "acme-7f"))
        #expect(imported.record.secretForm == .sha256)
        #expect(imported.record.start == "acme-7f")
        #expect(imported.record.lookup == digest)
        #expect(harness.verify(plaintext).code == .valid)
        #expect(harness.verify(plaintext + "x").code == .notFound)
        // A Gatehouse key issued beside it still verifies by its HMAC.
        let native = try harness.create()
        #expect(harness.verify(native.secret).code == .valid)
        #expect(harness.verify(harness.unknownKey()).code == .notFound)
    }

    @Test func aNativeKeyStringKeepsItsNativeForm() throws {
        var harness = Harness()
        let key = harness.unknownKey(prefix: "acme")
        let imported = try importKey(&harness, .key(key))
        #expect(imported.record.secretForm == .native)
        #expect(imported.record.start == APIKeyFormat.displayStart(of: key))
        #expect(harness.keeper.importedLookups == ImportedLookups())
        #expect(harness.verify(key).code == .valid)
    }

    @Test func importsAreCheckedLikeCreates() throws {
        var harness = Harness()
        #expect(keyError { try importKey(&harness, .key("too-short")) }?.field == "key")
        #expect(keyError { try importKey(&harness, .key(String(repeating: "k", count: 257))) }?.field == "key")
        let digest = LookupHash(w0: 1, w1: 2, w2: 3, w3: 4)
        #expect(keyError { try importKey(&harness, .sha256(digest, start: "a start that is far too long")) }?.field == "start")
        #expect(keyError { try importKey(&harness, .key("sk_live_0123456789abcdef"), draft: KeyDraft(scopes: ["bad scope"])) }?.field == "scopes")
        let generated = try importKey(&harness, .generated)
        #expect(generated.secret.map(APIKeyFormat.isWellFormed) == true)
        #expect(harness.verify(try #require(generated.secret)).code == .valid)
    }

    @Test func aRotatedForeignKeyKeepsWorkingThroughItsGrace() throws {
        var harness = Harness()
        let foreign = "legacy-key-0123456789abcdef"
        let imported = try importKey(&harness, .key(foreign))
        let rotated = try harness.rotate(imported.record.id, graceMs: 60_000, nowMs: Fixture.t0)
        #expect(rotated.record.secretForm == .native)
        #expect(rotated.record.retiredSecrets.map(\.form) == [.foreign])
        #expect(harness.verify(foreign, at: Fixture.t0 + 1_000).code == .valid)
        #expect(harness.verify(rotated.secret, at: Fixture.t0 + 1_000).code == .valid)
        #expect(harness.verify(foreign, at: Fixture.t0 + 61_000).code != .valid)
    }

    @Test func formsSurviveJSONAndNativeRecordsStoreAsBefore() throws {
        var harness = Harness()
        let native = try harness.create().record
        let nativeJSON = String(decoding: try JSONEncoder().encode(native), as: UTF8.self)
        #expect(!nativeJSON.contains("secret_form"))
        #expect(!nativeJSON.contains("\"form\""))
        let foreign = try importKey(&harness, .key("legacy-key-0123456789abcdef")).record
        let rotated = try harness.rotate(foreign.id, graceMs: 60_000, nowMs: Fixture.t0).record
        for record in [foreign, rotated] {
            #expect(try JSONDecoder().decode(KeyRecord.self, from: JSONEncoder().encode(record)) == record)
        }
    }
}
