import Foundation
import FuzzSupport
import GatehouseCore

/// HTTP request bodies: the bytes of a POST/PATCH body decoded into each request model
/// exactly as the node does (`JSONBody.decode`: JSONDecoder, unknown fields refused, errors
/// mapped to the API's shapes), then what the handler does with a body that decodes —
/// the key lifecycle's validation (create, update, rotate), a verify, and the JSON answer.
///
/// Properties: every failure is an `APIError` with a code and a message; a record built
/// from a body obeys `KeyRules`; a time that parses formats back to one that parses.

let nowMs: Int64 = 1_760_000_000_000
let version = HybridTimestamp(wallMs: nowMs, logical: 0, node: "fuzz")
let hasher = LookupHasher(pepper: [UInt8](repeating: 7, count: 32))
let defaultLimits = [RateLimit(name: "default", limit: 100, windowMs: 60_000)]

struct Fixture: @unchecked Sendable {
    var gatekeeper: Gatekeeper
    var record: KeyRecord
    var secret: String
}

nonisolated(unsafe) var fixture: Fixture = {
    var random = FuzzRandom(seed: 1)
    var draft = KeyDraft(prefix: "gk", name: "fixture", owner: "acct", scopes: ["orders:*"])
    draft.credits = 10
    let created = try! KeyLifecycle.create(draft, defaultLimits: defaultLimits, hasher: hasher, nowMs: nowMs, version: version, using: &random)
    var gatekeeper = Gatekeeper(hasher: hasher)
    _ = gatekeeper.apply(created.record)
    return Fixture(gatekeeper: gatekeeper, record: created.record, secret: created.secret)
}()

func decode<Body: Decodable>(_ type: Body.Type, _ data: Data) -> Body? {
    do {
        return try JSONBody.decode(type, from: data)
    } catch let error as APIError {
        fuzzCheck(!error.code.isEmpty && !error.message.isEmpty, "an API error without code or message")
        return nil
    } catch {
        fuzzCheck(false, "decoding threw something other than an APIError: \(error)")
        return nil
    }
}

func checkRules(_ record: KeyRecord) {
    do throws(KeyError) {
        try KeyRules.validateContent(of: record)
    } catch {
        fuzzCheck(false, "a record the lifecycle accepted breaks the rules: \(error)")
    }
}

func answer(_ record: KeyRecord) {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    do {
        _ = try encoder.encode(KeyView(record: record, creditsRemaining: record.credits))
    } catch {
        fuzzCheck(false, "the answer for a record does not encode: \(error)")
    }
    if let expiresAt = record.expiresAt {
        fuzzCheck(JSONTime.parse(JSONTime.format(expiresAt)) != nil, "expires_at \(expiresAt) formats to a time that does not parse")
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    guard let start else { return 0 }
    let data = Data(bytes: start, count: count)
    var random = FuzzRandom(seed: UInt64(count))

    if let body = decode(CreateKeyBody.self, data) {
        var draft = body.draft
        if !body.prefixGiven { draft.prefix = "gk" }
        if let created = try? KeyLifecycle.create(draft, defaultLimits: defaultLimits, hasher: hasher, nowMs: nowMs, version: version, using: &random) {
            checkRules(created.record)
            fuzzCheck(APIKeyFormat.isWellFormed(created.secret), "a new secret is not well formed")
            answer(created.record)
            // The key in use: whatever limits and credits the body gave it, verifying it
            // (free, then at a cost) must answer, not trap.
            var gatekeeper = Gatekeeper(hasher: hasher)
            _ = gatekeeper.apply(created.record)
            for cost: Int64 in [0, 1, created.record.limits.first?.limit ?? 2, .max] {
                let result = gatekeeper.verify(key: created.secret, VerifyRequest(cost: cost), nowMs: nowMs + 1)
                fuzzCheck(result.code != .notFound, "a key just created is not found")
            }
        }
    }
    if let body = decode(UpdateKeyBody.self, data) {
        if let updated = try? KeyLifecycle.update(fixture.record, with: body.changes, nowMs: nowMs, version: version) {
            checkRules(updated)
            answer(updated)
        }
    }
    if let body = decode(RotateKeyBody.self, data) {
        if let rotated = try? KeyLifecycle.rotate(fixture.record, graceMs: body.graceMs, hasher: hasher, nowMs: nowMs, version: version, using: &random) {
            fuzzCheck(rotated.record.retiredSecrets.count <= KeyRules.maxRetiredSecrets, "too many retired secrets")
            answer(rotated.record)
        }
    }
    if let body = decode(VerifyBody.self, data), body.cost >= 0 {
        // Half the time the fixture's real key, so verify gets past the lookup.
        let key = count % 2 == 0 ? fixture.secret : body.key
        let result = fixture.gatekeeper.verify(key: key, VerifyRequest(scopes: body.scopes, cost: body.cost), nowMs: nowMs)
        do {
            _ = try JSONEncoder().encode(VerifyView(answer: result))
        } catch {
            fuzzCheck(false, "a verify answer does not encode: \(error)")
        }
    }
    return 0
}

/// `main`, as SwiftPM links it: libFuzzer's driver with `fuzzOne` as the target.
@_cdecl("http_json_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    runFuzzer(argc, argv, fuzzOne)
}
