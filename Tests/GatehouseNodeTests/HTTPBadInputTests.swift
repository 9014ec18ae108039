import Foundation
import Testing

/// Broken and hostile HTTP requests: a 4xx with a JSON error body, a metric, no echo of secrets.
@Suite("HTTP bad input", .timeLimit(.minutes(5)))
struct HTTPBadInputTests {
    @Test func invalidJSONIsA400WithAJSONBody() async throws {
        let node = try await TestNode.start()
        let reply = try await node.http("POST", "/v1/keys", raw: Data("{\"name\": ".utf8))
        #expect(reply.status == 400)
        #expect(reply.errorCode == "bad_json")
        #expect(try await node.metric("gatehouse_http_errors_total{reason=\"bad_json\"}") == 1)
        let notObject = try await node.http("POST", "/v1/keys", raw: Data("[1,2]".utf8))
        #expect(notObject.status == 400)
        #expect(notObject.errorCode == "bad_json")
        try await node.stop()
    }

    @Test func oversizedBodiesAreRefused() async throws {
        let node = try await TestNode.start { $0.maxBodyBytes = 4096 }
        let big = try await node.http("POST", "/v1/keys", json: ["name": String(repeating: "n", count: 10_000)])
        #expect(big.status == 413)
        #expect(big.errorCode == "too_large")
        #expect(try await node.metric("gatehouse_http_errors_total{reason=\"too_large\"}") == 1)
        try await node.stop()
    }

    @Test func unknownFieldsAreRefusedByName() async throws {
        let node = try await TestNode.start()
        let reply = try await node.http("POST", "/v1/keys", json: ["name": "x", "scope": ["read"]])
        #expect(reply.status == 400)
        #expect(reply.errorCode == "unknown_field")
        #expect((reply.object["error"] as? [String: Any])?["field"] as? String == "scope")
        let nested = try await node.http("POST", "/v1/keys", json: ["limits": [["name": "h", "limit": 1, "window_ms": 1, "burst": 2]]])
        #expect(nested.errorCode == "unknown_field")
        #expect((nested.object["error"] as? [String: Any])?["field"] as? String == "limits[0].burst")
        #expect(try await node.metric("gatehouse_http_errors_total{reason=\"unknown_field\"}") == 2)
        try await node.stop()
    }

    @Test func invalidFieldsNameTheField() async throws {
        let node = try await TestNode.start()
        let cases: [([String: Any], String)] = [
            (["limits": [["name": "h", "limit": 0, "window_ms": 1000]]], "limits"),
            (["scopes": ["a*b"]], "scopes"),
            (["meta": ["big": String(repeating: "m", count: 5000)]], "meta"),
            (["expires_at": "2001-01-01T00:00:00Z"], "expires_at"),
            (["expires_at": "tomorrow"], "expires_at"),
            (["credits": -1], "credits"),
            (["prefix": "Bad_Prefix"], "prefix"),
            (["name": 42], "name"),
            (["owner": "acct\r\nX-Injected: 1"], "owner"),
            (["limits": [["name": "h", "limit": "many", "window_ms": 1000]]], "limits[0].limit"),
        ]
        for (body, field) in cases {
            let reply = try await node.http("POST", "/v1/keys", json: body)
            #expect(reply.status == 400, "\(body)")
            #expect((reply.object["error"] as? [String: Any])?["field"] as? String == field, "\(body): \(reply.text)")
        }
        try await node.stop()
    }

    @Test func wrongAndMissingTokensAre401WithoutEcho() async throws {
        let gateway = "gateway-token-0123456789abcdef"
        let node = try await TestNode.start { $0.gatewayTokens = [gateway] }
        let wrong = "wrong-admin-token-value-123456"
        let reply = try await node.http("GET", "/v1/keys", token: wrong)
        #expect(reply.status == 401)
        #expect(reply.errorCode == "unauthorized")
        #expect(!reply.text.contains(wrong))
        #expect(try await node.http("GET", "/v1/keys", token: nil).status == 401)
        #expect(try await node.http("GET", "/v1/keys", token: gateway).status == 401)
        let key = try await node.createKey()
        #expect(try await node.http("POST", "/v1/verify", json: ["key": key.secret], token: nil).status == 401)
        #expect(try await node.http("POST", "/v1/verify", json: ["key": key.secret], token: wrong).status == 401)
        #expect(try await node.http("POST", "/v1/verify", json: ["key": key.secret], token: gateway).status == 200)
        let authNoToken = try await node.http("GET", "/v1/auth", token: key.secret)
        #expect(authNoToken.status == 401)
        #expect(authNoToken.header("WWW-Authenticate") == nil)
        #expect(authNoToken.header("X-Gatehouse-Code") == "GATEWAY_UNAUTHORIZED")
        let authWithToken = try await node.http("GET", "/v1/auth", token: key.secret, headers: ["X-Gatehouse-Token": gateway])
        #expect(authWithToken.status == 200)
        #expect(try await node.metric("gatehouse_http_errors_total{reason=\"unauthorized\"}") == 6)
        try await node.stop()
    }

    @Test func aKeySentWhereItDoesNotBelongIsNotEchoed() async throws {
        let node = try await TestNode.start()
        let key = try await node.createKey()
        let replies = [
            try await node.http("POST", "/v1/keys", json: ["name": "x", key.secret: true]),
            try await node.http("POST", "/v1/verify", json: ["key": key.secret, "cost": "many"], token: nil),
            try await node.http("GET", "/v1/keys/\(key.secret)"),
        ]
        for reply in replies {
            #expect(reply.status >= 400)
            #expect(!reply.text.contains(String(key.secret.dropFirst(3))), "\(reply.text)")
        }
        try await node.stop()
    }

    @Test func unknownRoutesAreJSON404s() async throws {
        let node = try await TestNode.start()
        let reply = try await node.http("GET", "/v2/nothing")
        #expect(reply.status == 404)
        try await node.stop()
    }
}
