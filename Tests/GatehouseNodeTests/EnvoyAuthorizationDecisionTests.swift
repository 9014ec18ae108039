import GatehouseCore
import GatehouseNode
import Testing

/// ext_authz `Check` decisions: where the key and scopes come from, and what Envoy is told.
@Suite("Envoy ext_authz decisions")
struct EnvoyAuthorizationDecisionTests {
    static let decision = EnvoyAuthorizationDecision(
        settings: EnvoyAuthorizationSettings(routes: [
            .init(pathPrefix: "/orders", scopes: ["orders:read"]),
            .init(pathPrefix: "/orders/admin", scopes: ["orders:admin"]),
        ]),
        failedAttemptWindowMs: 60_000)

    static func valid() -> VerifyAnswer {
        var answer = VerifyAnswer(code: .valid)
        answer.keyID = "key_42"
        answer.owner = "acct_7"
        answer.meta = ["tier": "gold", "bad name": "x", "multi": "line\nbreak"]
        answer.limit = 10
        answer.remaining = 9
        answer.resetMs = 1_200
        return answer
    }

    @Test func theKeyComesFromBearerThenTheKeyHeaderAndScopesFromExtensionsThenRoutes() throws {
        var seen: [(String, VerifyRequest)] = []
        let record: (String, VerifyRequest) -> VerifyAnswer = { key, request in
            seen.append((key, request))
            return Self.valid()
        }
        _ = try Self.decision.decide(.init(headers: ["authorization": "Bearer gk_a", "x-api-key": "gk_b"], path: "/orders/admin/1?x=1"), verify: record)
        _ = try Self.decision.decide(.init(headers: ["x-api-key": "gk_b"], path: "/orders/7"), verify: record)
        _ = try Self.decision.decide(
            .init(headers: ["x-api-key": "gk_c"], path: "/orders/7", contextExtensions: ["scopes": "a, b", "cost": "3"], sourceAddress: "203.0.113.9"),
            verify: record)
        _ = try Self.decision.decide(.init(headers: [:], path: "/elsewhere"), verify: record)
        #expect(seen.map(\.0) == ["gk_a", "gk_b", "gk_c", ""])
        #expect(seen.map(\.1.scopes) == [["orders:admin"], ["orders:read"], ["a", "b"], []])
        #expect(seen.map(\.1.cost) == [1, 1, 3, 1])
        #expect(seen[2].1.source == SourceAddress.identity("203.0.113.9"))
        #expect(seen[0].1.source == nil)
        #expect(throws: EnvoyCheckRequestError.self) {
            try Self.decision.decide(.init(headers: [:], contextExtensions: ["cost": "-1"]), verify: record)
        }
    }

    @Test func aValidKeyGoesUpstreamWithItsIdOwnerAndSafeMeta() throws {
        let answer = try Self.decision.decide(.init(headers: ["x-api-key": "gk_a"])) { _, _ in Self.valid() }
        guard case .allowed(let upstream, let response) = answer else {
            Issue.record("expected allowed, got \(answer)")
            return
        }
        #expect(upstream == [.init("x-gatehouse-key-id", "key_42"), .init("x-gatehouse-owner", "acct_7"), .init("x-gatehouse-meta-tier", "gold")])
        #expect(response == [.init("ratelimit-limit", "10"), .init("ratelimit-remaining", "9"), .init("ratelimit-reset", "2")])
    }

    @Test func refusalsAre401_403And429WithRetryAfter() throws {
        func denied(_ code: VerifyCode, retryAfterMs: Int64? = nil) throws -> (Int, [EnvoyCheckAnswer.Header]) {
            var answer = Self.valid()
            answer.code = code
            answer.retryAfterMs = retryAfterMs
            guard case .denied(let status, let headers, let said) = try Self.decision.decide(.init(headers: [:]), verify: { _, _ in answer }) else {
                Issue.record("\(code) was allowed")
                return (0, [])
            }
            #expect(said == code)
            return (status, headers)
        }
        let unknown = try denied(.notFound)
        #expect(unknown.0 == 401 && unknown.1.contains(.init("www-authenticate", "Bearer")))
        #expect(try denied(.insufficientScope).0 == 403)
        let limited = try denied(.rateLimited, retryAfterMs: 1_001)
        #expect(limited.0 == 429)
        #expect(limited.1.contains(.init("retry-after", "2")))
        #expect(limited.1.contains(.init("ratelimit-remaining", "9")))
        #expect(limited.1.contains(.init("x-gatehouse-code", "RATE_LIMITED")))
        let throttled = try denied(.sourceThrottled)
        #expect(throttled.0 == 429 && throttled.1.contains(.init("retry-after", "60")))
    }
}
