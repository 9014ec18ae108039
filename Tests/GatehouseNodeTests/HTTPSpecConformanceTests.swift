import Foundation
@testable import GatehouseNode
import Testing

/// What scripts/schemathesis found where the node and openapi.yaml disagreed, pinned on the
/// node's side: correct HTTP for methods, the rules the spec now states, RFC 3339 times.
@Suite("HTTP API as openapi.yaml describes it", .timeLimit(.minutes(5)))
struct HTTPSpecConformanceTests {
    @Test func aKnownPathAskedWithAnotherMethodIs405WithAllow() async throws {
        let node = try await TestNode.start()
        let cases: [(method: String, path: String, allow: String)] = [
            ("DELETE", "/v1/keys", "GET, HEAD, POST"),
            ("PUT", "/v1/keys/key_4bQn8Hc2VxWm0LrTz9KpYa", "GET, HEAD, PATCH"),
            ("TRACE", "/healthz", "GET, HEAD"),
            ("GET", "/v1/verify", "POST"),
            ("GET", "/v1/keys/anything/revoke", "POST"),
            ("OPTIONS", "/v1/auth", "GET, HEAD"),
        ]
        for (method, path, allow) in cases {
            let reply = try await node.http(method, path)
            #expect(reply.status == 405, "\(method) \(path)")
            #expect(reply.header("Allow") == allow, "\(method) \(path)")
            #expect(reply.errorCode == "method_not_allowed", "\(method) \(path): \(reply.text)")
            #expect(reply.header("X-Request-Id") != nil)
        }
        #expect(try await node.metric("gatehouse_http_errors_total{reason=\"method_not_allowed\"}") == Double(cases.count))
        try await node.stop()
    }

    @Test func anUnknownPathIsStill404() async throws {
        let node = try await TestNode.start()
        for (method, path) in [("GET", "/v2/keys"), ("DELETE", "/nowhere"), ("GET", "/v1/keys/a/b"), ("POST", "/v1/keys/a/retire")] {
            let reply = try await node.http(method, path)
            #expect(reply.status == 404, "\(method) \(path)")
            #expect(reply.header("Allow") == nil)
            #expect(reply.errorCode == "not_found")
        }
        try await node.stop()
    }

    @Test func headIsAnsweredForEveryGetWithoutABody() async throws {
        let node = try await TestNode.start()
        let health = try await node.http("HEAD", "/healthz", token: nil)
        #expect(health.status == 200)
        #expect(health.data.isEmpty)
        #expect(try await node.http("HEAD", "/v1/keys").status == 200)
        #expect(try await node.http("HEAD", "/v1/keys", token: nil).status == 401)
        try await node.stop()
    }

    @Test func anUnusableRequestIdIsReplacedNotRefused() async throws {
        let node = try await TestNode.start()
        let given = try await node.http("GET", "/healthz", token: nil, headers: ["X-Request-Id": "req-8f14e45f"])
        #expect(given.header("X-Request-Id") == "req-8f14e45f")
        for bad in ["has space", String(repeating: "r", count: 129), "caf\u{E9}"] {
            let reply = try await node.http("GET", "/healthz", token: nil, headers: ["X-Request-Id": bad])
            #expect(reply.status == 200)
            let made = try #require(reply.header("X-Request-Id"))
            #expect(made != bad && !made.isEmpty)
        }
        try await node.stop()
    }

    @Test func nameAndOwnerCountCharactersAndScopesAreASCII() async throws {
        let node = try await TestNode.start()
        // 256 characters of 3 bytes each: within the limit, which counts characters.
        let name = String(repeating: "\u{732B}", count: 256)
        let created = try await node.http("POST", "/v1/keys", json: ["name": name, "owner": String(repeating: "\u{E9}", count: 256)])
        #expect(created.status == 201, "\(created.text)")
        #expect(created.object["name"] as? String == name)
        let long = try await node.http("POST", "/v1/keys", json: ["name": String(repeating: "\u{732B}", count: 257)])
        #expect(long.status == 400)
        #expect((long.object["error"] as? [String: Any])?["field"] as? String == "name")
        let nonASCII = try await node.http("POST", "/v1/keys", json: ["scopes": ["comm\u{E4}nde:read"]])
        #expect(nonASCII.status == 400)
        #expect((nonASCII.object["error"] as? [String: Any])?["field"] as? String == "scopes")
        try await node.stop()
    }

    @Test func nullIsTheSameAsLeavingAFieldOut() async throws {
        let node = try await TestNode.start()
        let created = try await node.http("POST", "/v1/keys", json: [
            "prefix": NSNull(), "name": NSNull(), "owner": NSNull(), "scopes": NSNull(), "limits": NSNull(), "meta": NSNull(), "enabled": NSNull(),
        ])
        #expect(created.status == 201, "\(created.text)")
        #expect(created.object["enabled"] as? Bool == true)
        let id = try #require(created.object["id"] as? String)
        let patched = try await node.http("PATCH", "/v1/keys/\(id)", json: ["enabled": NSNull(), "name": NSNull()])
        #expect(patched.status == 200)
        #expect(try await node.http("POST", "/v1/keys/\(id)/rotate", json: ["grace_ms": NSNull()]).status == 200)
        let verify = try await node.http("POST", "/v1/verify", json: ["key": "gk_nope", "scopes": NSNull(), "cost": NSNull(), "ip": NSNull(), "request_id": NSNull()])
        #expect(verify.status == 200)
        #expect(try await node.http("POST", "/v1/verify", json: ["key": NSNull()]).status == 400)
        try await node.stop()
    }

    @Test("every RFC 3339 date-time is read", arguments: [
        ("2027-01-01T00:00:00Z", Int64(1_798_761_600_000)),
        ("2027-01-01t00:00:00z", 1_798_761_600_000),
        ("2027-01-01T01:30:00+01:30", 1_798_761_600_000),
        ("2026-12-31T04:29:00-19:31", 1_798_761_600_000),
        ("2027-01-01T00:00:00.1Z", 1_798_761_600_100),
        ("2027-01-01T00:00:00.123456789Z", 1_798_761_600_123),
        ("2027-01-01T00:00:00.9995Z", 1_798_761_601_000),
        ("2016-12-31T23:59:60Z", 1_483_228_800_000),
        ("2016-12-31T18:59:60-05:00", 1_483_228_800_000),
        ("2024-02-29T00:00:00Z", 1_709_164_800_000),
        ("1969-12-31T23:59:59Z", -1000),
        ("0000-03-01T00:00:00Z", -62_162_035_200_000),
    ])
    func rfc3339(text: String, ms: Int64) {
        #expect(JSONTime.parse(text) == ms)
    }

    @Test("anything else is not", arguments: [
        "2027-01-01", "2027-01-01T00:00:00", "2027-01-01 00:00:00Z", "2027-01-01T00:00:00+0100", "2027-01-01T00:00:00.Z",
        "2027-13-01T00:00:00Z", "2027-02-29T00:00:00Z", "2027-04-31T00:00:00Z", "2027-01-01T24:00:00Z", "2027-01-01T00:60:00Z",
        "2027-01-01T12:00:60Z", "2027-01-01T00:00:00+24:00", "2027-01-01T00:00:00Z ", "tomorrow", "+2027-01-01T00:00:00Z",
        "9999-12-31T23:59:59-00:01", "0000-01-01T00:00:00+00:01",
    ])
    func notRFC3339(text: String) {
        #expect(JSONTime.parse(text) == nil)
    }

    @Test("times are written exactly, in UTC with milliseconds", arguments: [
        (Int64(1_798_761_600_123), "2027-01-01T00:00:00.123Z"), (-1000, "1969-12-31T23:59:59.000Z"), (0, "1970-01-01T00:00:00.000Z"),
        (1_483_228_800_000, "2017-01-01T00:00:00.000Z"), (1_709_164_800_001, "2024-02-29T00:00:00.001Z"),
        (253_402_300_799_999, "9999-12-31T23:59:59.999Z"), (-62_167_219_200_000, "0000-01-01T00:00:00.000Z"),
    ])
    func format(ms: Int64, text: String) {
        #expect(JSONTime.format(ms) == text)
        #expect(JSONTime.parse(text) == ms)
    }

    @Test func aFarOffsetTimeIsAcceptedForExpiry() async throws {
        let node = try await TestNode.start()
        let created = try await node.http("POST", "/v1/keys", json: ["expires_at": "3385-10-29T07:06:56.4194-19:31"])
        #expect(created.status == 201, "\(created.text)")
        #expect(created.object["expires_at"] as? String == "3385-10-30T02:37:56.419Z")
        try await node.stop()
    }
}
