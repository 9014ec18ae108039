import Foundation
import Testing

@Suite("HTTP API", .timeLimit(.minutes(5)))
struct HTTPAPITests {
    static var example: [String: Any] { [
        "name": "billing", "owner": "acct_42", "scopes": ["read", "orders:*"],
        "limits": [["name": "hour", "limit": 1000, "window_ms": 3_600_000]], "expires_at": "2037-01-01T00:00:00Z",
    ] }

    @Test func createShowsTheSecretOnceAndTheRecordAlways() async throws {
        let node = try await TestNode.start()
        let created = try await node.http("POST", "/v1/keys", json: Self.example)
        #expect(created.status == 201)
        let secret = try #require(created.object["key"] as? String)
        let id = try #require(created.object["id"] as? String)
        #expect(secret.hasPrefix("gk_"))
        #expect(id.hasPrefix("key_"))
        #expect(created.object["owner"] as? String == "acct_42")
        #expect(created.object["expires_at"] as? String == "2037-01-01T00:00:00.000Z")
        #expect(created.object["start"] as? String == String(secret.prefix(7)))
        let shown = try await node.http("GET", "/v1/keys/\(id)")
        #expect(shown.status == 200)
        #expect(shown.object["key"] == nil)
        #expect(!shown.text.contains(secret))
        #expect(shown.object["name"] as? String == "billing")
        #expect(shown.object["scopes"] as? [String] == ["read", "orders:*"])
        try await node.stop()
    }

    @Test func keysWithoutLimitsGetTheConfiguredDefault() async throws {
        let node = try await TestNode.start()
        let plain = try await node.http("POST", "/v1/keys", json: ["name": "x"])
        let limits = try #require(plain.object["limits"] as? [[String: Any]])
        #expect(limits.count == 1)
        #expect(limits.first?["name"] as? String == "hour")
        #expect(limits.first?["limit"] as? Int == 1000)
        #expect(limits.first?["window_ms"] as? Int == 3_600_000)
        try await node.stop()
        let custom = try await TestNode.start {
            $0.defaultLimits = [.init(name: "day", limit: 5, windowMs: 86_400_000)]
            $0.defaultKeyPrefix = "acme"
        }
        let other = try await custom.http("POST", "/v1/keys", json: [:])
        #expect((other.object["limits"] as? [[String: Any]])?.first?["name"] as? String == "day")
        #expect((other.object["key"] as? String)?.hasPrefix("acme_") == true)
        let chosen = try await custom.http("POST", "/v1/keys", json: ["prefix": "own"])
        #expect((chosen.object["key"] as? String)?.hasPrefix("own_") == true)
        try await custom.stop()
    }

    @Test func listPagesByOwnerWithACursor() async throws {
        let node = try await TestNode.start()
        var ids: [String] = []
        for index in 0..<5 { ids.append(try await node.createKey(["owner": "acct_1", "name": "k\(index)"]).id) }
        _ = try await node.createKey(["owner": "acct_2"])
        let first = try await node.http("GET", "/v1/keys?owner=acct_1&limit=2")
        let firstPage = try #require(first.object["keys"] as? [[String: Any]])
        #expect(firstPage.count == 2)
        var seen = firstPage.compactMap { $0["id"] as? String }
        var cursor = first.object["next_cursor"] as? String
        while let next = cursor {
            let page = try await node.http("GET", "/v1/keys?owner=acct_1&limit=2&cursor=\(next)")
            seen += (page.object["keys"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String }
            cursor = page.object["next_cursor"] as? String
        }
        #expect(seen == ids.sorted())
        let all = try await node.http("GET", "/v1/keys")
        #expect((all.object["keys"] as? [Any])?.count == 6)
        #expect(try await node.http("GET", "/v1/keys?limit=0").status == 400)
        try await node.stop()
    }

    @Test func patchChangesOnlyWhatIsGivenAndNullClears() async throws {
        let node = try await TestNode.start()
        let key = try await node.createKey(["name": "a", "credits": 10, "expires_at": "2037-01-01T00:00:00Z"])
        let patched = try await node.http("PATCH", "/v1/keys/\(key.id)", json: ["name": "b", "expires_at": NSNull(), "enabled": false])
        #expect(patched.status == 200)
        #expect(patched.object["name"] as? String == "b")
        #expect(patched.object["expires_at"] is NSNull)
        #expect(patched.object["credits"] as? Int == 10)
        let client = try await node.client()
        #expect(try await client.verify(key.secret).code == .disabled)
        _ = try await node.http("PATCH", "/v1/keys/\(key.id)", json: ["enabled": true, "credits": 1])
        #expect(try await client.verify(key.secret).creditsRemaining == 0)
        #expect(try await client.verify(key.secret).code == .usageExceeded)
        let before = try await node.http("GET", "/v1/keys/\(key.id)").object["version"] as? String
        let empty = try await node.http("PATCH", "/v1/keys/\(key.id)", json: [:])
        #expect(empty.status == 200)
        #expect(empty.object["version"] as? String == before)
        let missing = try await node.http("PATCH", "/v1/keys/key_nope", json: ["name": "c"])
        #expect(missing.status == 404)
        try await client.close()
        try await node.stop()
    }

    /// `refill` is set, shown, removed with the credits, and checked like every field.
    @Test func refillIsSetShownAndChecked() async throws {
        let node = try await TestNode.start()
        let key = try await node.createKey(["name": "metered", "refill": ["amount": 100, "interval": "monthly"]])
        let shown = try await node.http("GET", "/v1/keys/\(key.id)")
        #expect(shown.object["credits"] as? Int == 100)
        let refill = try #require(shown.object["refill"] as? [String: Any])
        #expect(refill["amount"] as? Int == 100)
        #expect(refill["interval"] as? String == "monthly")
        let client = try await node.client()
        #expect(try await client.verify(key.secret).creditsRemaining == 99)
        let bad = try await node.http("PATCH", "/v1/keys/\(key.id)", json: ["refill": ["amount": 5, "interval": "weekly"]])
        #expect(bad.status == 400)
        #expect((bad.object["error"] as? [String: Any])?["field"] as? String == "refill.interval")
        let unknown = try await node.http("PATCH", "/v1/keys/\(key.id)", json: ["refill": ["amount": 5, "interval": "daily", "day": 3]])
        #expect(unknown.status == 400)
        let cleared = try await node.http("PATCH", "/v1/keys/\(key.id)", json: ["credits": NSNull()])
        #expect(cleared.object["credits"] is NSNull)
        #expect(cleared.object["refill"] is NSNull)
        try await client.close()
        try await node.stop()
    }

    @Test func revokeAndRotateTakeEffectAtOnce() async throws {
        let node = try await TestNode.start()
        let key = try await node.createKey()
        let client = try await node.client()
        let rotated = try await node.http("POST", "/v1/keys/\(key.id)/rotate", json: ["grace_ms": 60_000])
        #expect(rotated.status == 200)
        let newSecret = try #require(rotated.object["key"] as? String)
        #expect(newSecret != key.secret)
        #expect(try await client.verify(newSecret).code == .valid)
        #expect(try await client.verify(key.secret).code == .valid)
        node.clock.advance(byMs: 60_001)
        #expect(try await client.verify(key.secret).code == .expired)
        let noGrace = try await node.http("POST", "/v1/keys/\(key.id)/rotate")
        let newest = try #require(noGrace.object["key"] as? String)
        #expect(try await client.verify(newSecret).code == .notFound)
        let revoked = try await node.http("POST", "/v1/keys/\(key.id)/revoke")
        #expect(revoked.status == 200)
        #expect(revoked.object["revoked_at"] is String)
        #expect(try await client.verify(newest).code == .revoked)
        let again = try await node.http("POST", "/v1/keys/\(key.id)/rotate")
        #expect(again.status == 409)
        #expect(again.errorCode == "revoked")
        try await client.close()
        try await node.stop()
    }

    @Test func verifyOverHTTPUsesTheSameFieldsAsRESP() async throws {
        let node = try await TestNode.start()
        let key = try await node.createKey(["scopes": ["read"], "meta": ["tier": "gold"]])
        let reply = try await node.http("POST", "/v1/verify", json: ["key": key.secret, "scopes": ["read"]], token: nil)
        #expect(reply.status == 200)
        #expect(Set(reply.object.keys) == Set(["valid", "code", "key_id", "owner", "scopes", "meta", "limit", "remaining", "reset_ms", "retry_after_ms", "credits_remaining"]))
        #expect(reply.object["valid"] as? Bool == true)
        #expect(reply.object["meta"] as? [String: String] == ["tier": "gold"])
        let bad = try await node.http("POST", "/v1/verify", json: ["key": "nonsense"], token: nil)
        #expect(bad.object["code"] as? String == "MALFORMED")
        try await node.stop()
    }

    @Test func forwardAuthAnswersWithStatusAndHeaders() async throws {
        let node = try await TestNode.start()
        let key = try await node.createKey([
            "owner": "acct_7", "scopes": ["orders:*"], "limits": [["name": "s", "limit": 2, "window_ms": 10_000]],
        ])
        let ok = try await node.http("GET", "/v1/auth?scope=orders:read", token: key.secret)
        #expect(ok.status == 200)
        #expect(ok.header("X-Gatehouse-Key-Id") == key.id)
        #expect(ok.header("X-Gatehouse-Owner") == "acct_7")
        #expect(ok.header("RateLimit-Limit") == "2")
        #expect(ok.header("RateLimit-Remaining") == "1")
        #expect(ok.header("RateLimit-Reset") != nil)
        let viaHeader = try await node.http("GET", "/v1/auth", token: nil, headers: ["X-API-Key": key.secret])
        #expect(viaHeader.status == 200)
        let limited = try await node.http("GET", "/v1/auth", token: key.secret)
        #expect(limited.status == 429)
        #expect(Int(limited.header("Retry-After") ?? "") ?? 0 >= 1)
        let scope = try await node.http("GET", "/v1/auth?scope=admin", token: key.secret)
        #expect(scope.status == 403)
        let missing = try await node.http("GET", "/v1/auth", token: nil)
        #expect(missing.status == 401)
        #expect(missing.header("WWW-Authenticate") == "Bearer")
        let unknown = try await node.http("GET", "/v1/auth", token: "gk_" + String(repeating: "Z", count: 36))
        #expect(unknown.status == 401)
        try await node.stop()
    }

    @Test func forwardAuthInNginxModeRefusesOverLimitRequestsWith403AndTheirHeaders() async throws {
        let node = try await TestNode.start { $0.decision.failedAttemptLimit = 2 }
        let key = try await node.createKey(["scopes": ["read"], "limits": [["name": "s", "limit": 1, "window_ms": 10_000]]])
        #expect(try await node.http("GET", "/v1/auth?mode=nginx", token: key.secret).status == 200)
        let limited = try await node.http("GET", "/v1/auth?mode=nginx", token: key.secret)
        #expect(limited.status == 403)
        #expect(limited.header("X-Gatehouse-Code") == "RATE_LIMITED")
        #expect(Int(limited.header("Retry-After") ?? "") ?? 0 >= 1)
        #expect(limited.header("RateLimit-Limit") == "1" && limited.header("RateLimit-Remaining") == "0")
        #expect(limited.object["code"] as? String == "RATE_LIMITED")
        // The default mode and `standard` still answer 429.
        #expect(try await node.http("GET", "/v1/auth", token: key.secret).status == 429)
        #expect(try await node.http("GET", "/v1/auth?mode=standard", token: key.secret).status == 429)
        // A scope refusal is a 403 in both modes, told apart by its code.
        let scope = try await node.http("GET", "/v1/auth?mode=nginx&scope=write", token: key.secret)
        #expect(scope.status == 403 && scope.header("X-Gatehouse-Code") == "INSUFFICIENT_SCOPE")
        #expect(scope.header("Retry-After") == nil)
        let unknownMode = try await node.http("GET", "/v1/auth?mode=haproxy", token: key.secret)
        #expect(unknownMode.status == 400 && unknownMode.errorCode == "invalid_field")
        // A source throttled for failed attempts is a 403 too.
        for _ in 0..<2 { _ = try await node.http("GET", "/v1/auth?mode=nginx", token: "gk_" + String(repeating: "Z", count: 36)) }
        let throttled = try await node.http("GET", "/v1/auth?mode=nginx", token: key.secret)
        #expect(throttled.status == 403 && throttled.header("X-Gatehouse-Code") == "SOURCE_THROTTLED")
        #expect(throttled.header("Retry-After") != nil)
        try await node.stop()
    }

    @Test func healthReadinessAndMetrics() async throws {
        let node = try await TestNode.start()
        let health = try await node.http("GET", "/healthz", token: nil)
        #expect(health.status == 200)
        #expect(health.object["status"] as? String == "ok")
        #expect(try await node.http("GET", "/readyz", token: nil).status == 200)
        let key = try await node.createKey()
        let client = try await node.client()
        _ = try await client.verify(key.secret)
        _ = try await client.verify("bogus")
        let metrics = try await node.http("GET", "/metrics", token: nil)
        #expect(metrics.header("Content-Type")?.hasPrefix("text/plain") == true)
        #expect(try await node.metric("gatehouse_verify_total{code=\"VALID\"}") == 1)
        #expect(try await node.metric("gatehouse_verify_total{code=\"MALFORMED\"}") == 1)
        #expect(try await node.metric("gatehouse_keys") == 1)
        #expect(!metrics.text.contains(key.secret))
        try await client.close()
        try await node.stop()
    }
}
