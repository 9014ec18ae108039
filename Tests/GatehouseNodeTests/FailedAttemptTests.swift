import GatehouseClient
import GatehouseCore
import GatehouseNode
import Testing

/// The failed-attempt throttle as callers meet it: whose address counts over HTTP, and
/// refused tokens counted like bad keys.
@Suite("Failed attempts per source, over HTTP and RESP", .timeLimit(.minutes(5)))
struct FailedAttemptTests {
    static let bogus = "gk_" + String(repeating: "Q", count: 36)
    static let loopbackProxy = TrustedProxies([try! AddressRange(parsing: "127.0.0.0/8")])

    @Test func withoutTrustedProxiesForwardedHeadersAreIgnored() async throws {
        let node = try await TestNode.start { $0.decision.failedAttemptLimit = 3 }
        let key = try await node.createKey()
        for _ in 0..<3 {
            let reply = try await node.http(
                "GET", "/v1/auth", token: Self.bogus, headers: ["X-Real-IP": "198.51.100.7", "X-Forwarded-For": "198.51.100.7"])
            #expect(reply.status == 401)
        }
        // The peer (this test, on loopback) sent the bad keys, whatever its headers said ...
        let fromPeer = try await node.http(
            "GET", "/v1/auth", token: key.secret, headers: ["X-Real-IP": "203.0.113.5", "X-Forwarded-For": "203.0.113.5"])
        #expect(fromPeer.status == 429)
        #expect(fromPeer.header("X-Gatehouse-Code") == "SOURCE_THROTTLED")
        // ... and the address named in them was not throttled.
        let client = try await node.client()
        #expect(try await client.verify(key.secret, ip: "198.51.100.7").code == .valid)
        // The operator is told once that a proxy may be missing from trusted_proxies.
        #expect(node.logs.all.filter { $0.contains("not in trusted_proxies") }.count == 1)
        try await client.close()
        try await node.stop()
    }

    @Test func behindATrustedProxyAClientSetAddressCannotGetAnotherThrottled() async throws {
        let node = try await TestNode.start {
            $0.decision.failedAttemptLimit = 3
            $0.trustedProxies = Self.loopbackProxy
        }
        let key = try await node.createKey()
        // The attacker at 203.0.113.9 names its victim in X-Real-IP and as the leftmost
        // X-Forwarded-For entry; the proxy appends the address it really saw.
        let attacker = ["X-Real-IP": "198.51.100.7", "X-Forwarded-For": "198.51.100.7, 203.0.113.9"]
        for _ in 0..<3 {
            #expect(try await node.http("GET", "/v1/auth", token: Self.bogus, headers: attacker).status == 401)
        }
        let victim = try await node.http("GET", "/v1/auth", token: key.secret, headers: ["X-Forwarded-For": "198.51.100.7"])
        #expect(victim.status == 200)
        // The attacker is throttled whatever it writes left of the proxy's entry ...
        let again = try await node.http("GET", "/v1/auth", token: key.secret, headers: ["X-Forwarded-For": "10.9.9.9, 203.0.113.9"])
        #expect(again.status == 429)
        #expect(again.header("X-Gatehouse-Code") == "SOURCE_THROTTLED")
        // ... and by X-Real-IP from a proxy that sets it (and no X-Forwarded-For).
        #expect(try await node.http("GET", "/v1/auth", token: key.secret, headers: ["X-Real-IP": "203.0.113.9"]).status == 429)
        #expect(try await node.http("GET", "/v1/auth", token: key.secret, headers: ["X-Real-IP": "198.51.100.7"]).status == 200)
        try await node.stop()
    }

    @Test func adminTokenGuessesAreThrottledPerSource() async throws {
        let node = try await TestNode.start {
            $0.decision.failedAttemptLimit = 3
            $0.trustedProxies = Self.loopbackProxy
        }
        let guesser = ["X-Forwarded-For": "203.0.113.9"]
        for attempt in 0..<3 {
            let reply = try await node.http("GET", "/v1/keys", token: "wrong-admin-token-\(attempt)", headers: guesser)
            #expect(reply.status == 401)
        }
        let refused = try await node.http("GET", "/v1/keys", headers: guesser)
        #expect(refused.status == 429, "even the right token is not compared for a throttled source")
        #expect(refused.errorCode == "source_throttled")
        #expect(refused.header("Retry-After") == "60")
        #expect(!refused.text.contains(TestNode.adminToken))
        #expect(try await node.http("GET", "/v1/keys", headers: ["X-Forwarded-For": "198.51.100.7"]).status == 200)
        #expect(try await node.metric("gatehouse_http_errors_total{reason=\"source_throttled\"}") == 1)
        try await node.stop()
    }

    @Test func gatewayTokenGuessesAreThrottledOverHTTPAndRESP() async throws {
        let token = "gateway-token-abcdefghijklmnop"
        let node = try await TestNode.start {
            $0.decision.failedAttemptLimit = 3
            $0.gatewayTokens = [token]
        }
        let key = try await node.createKey()
        let client = try await node.client()
        for attempt in 0..<2 {
            await #expect(throws: GatehouseClientError.self) { _ = try await client.send(["AUTH", "wrong-token-\(attempt)-0123456789"]) }
        }
        let http = try await node.http("POST", "/v1/verify", json: ["key": key.secret], token: "wrong-token-2-0123456789")
        #expect(http.status == 401)
        do {
            _ = try await client.send(["AUTH", token])
            Issue.record("a throttled source must not be authenticated")
        } catch GatehouseClientError.server(let line) {
            #expect(line.hasPrefix("WRONGPASS too many failed attempts"))
            #expect(!line.contains(token))
        }
        let throttled = try await node.http("POST", "/v1/verify", json: ["key": key.secret], token: token)
        #expect(throttled.status == 429)
        #expect(throttled.errorCode == "source_throttled")
        // Three refused AUTHs on one connection (two wrong, one throttled) also end it.
        try await eventually("the connection is closed after its third refused AUTH") {
            try await node.metric(#"gatehouse_connections_closed_total{listener="resp",reason="auth_failures"}"#) == 1
        }
        try? await client.close()
        try await node.stop()
    }
}
