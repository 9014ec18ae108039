import Foundation
import GatehouseClient
@testable import GatehouseNode
import GatehouseWire
import Testing

/// Part 5 of issue 13: every HTTP answer names the API version; deprecated routes and fields
/// say so with `Deprecation`, `Sunset` and `Link`; `HELLO` names Gatehouse's RESP protocol.
@Suite("API versioning and deprecation", .timeLimit(.minutes(5)))
struct APIVersioningTests {
    @Test func everyAnswerCarriesTheAPIVersion() async throws {
        let node = try await TestNode.start()
        let oversized = Data(repeating: UInt8(ascii: "a"), count: 70_000)
        let cases: [(what: String, reply: HTTPReply, status: Int)] = [
            ("health", try await node.http("GET", "/healthz", token: nil), 200),
            ("HEAD", try await node.http("HEAD", "/healthz", token: nil), 200),
            ("metrics", try await node.http("GET", "/metrics", token: nil), 200),
            ("list keys", try await node.http("GET", "/v1/keys"), 200),
            ("no admin token", try await node.http("GET", "/v1/keys", token: nil), 401),
            ("bad JSON", try await node.http("POST", "/v1/keys", raw: Data("{".utf8)), 400),
            ("unknown key id", try await node.http("GET", "/v1/keys/key_nope"), 404),
            ("unknown path", try await node.http("GET", "/nowhere", token: nil), 404),
            ("method not allowed", try await node.http("DELETE", "/v1/keys"), 405),
            ("body too large", try await node.http("POST", "/v1/keys", raw: oversized), 413),
            ("verify", try await node.http("POST", "/v1/verify", json: ["key": "gk_nope"], token: nil), 200),
            ("forward auth refusal", try await node.http("GET", "/v1/auth", token: nil, headers: ["X-API-Key": "gk_nope"]), 401),
        ]
        for (what, reply, status) in cases {
            #expect(reply.status == status, "\(what): \(reply.text)")
            #expect(reply.header(APIVersion.headerName) == APIVersion.current, "\(what)")
            #expect(reply.header("Deprecation") == nil, "\(what): nothing is deprecated in the product")
            #expect(reply.header("Sunset") == nil, "\(what)")
        }
        try await node.stop()
    }

    /// The one answer written below the router: the connection cap's 503.
    @Test func theConnectionCapRefusalCarriesTheAPIVersion() async throws {
        let node = try await TestNode.start { $0.connections.httpMaxConnections = 1 }
        let first = try await RawConnection.open(node.endpoints.http)
        try await first.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(try await first.waitFor { $0.contains("\r\n\r\n") }.hasPrefix("HTTP/1.1 200"))
        let second = try await RawConnection.open(node.endpoints.http)
        let refusal = try await second.waitFor { $0.contains("\r\n\r\n") }
        #expect(refusal.hasPrefix("HTTP/1.1 503"), "\(refusal)")
        #expect(refusal.contains("\r\n\(APIVersion.headerName): \(APIVersion.current)\r\n"), "\(refusal)")
        await first.close()
        await second.close()
        try await node.stop()
    }

    @Test func aDeprecatedRouteAnswersWithDeprecationSunsetAndLink() async throws {
        let registry = DeprecationRegistry([
            Deprecation(
                "GET", "/v1/keys/{id}", since: "2026-01-01", sunset: "2026-07-01", replacement: "the key list, by cursor",
                documentation: "https://gatehouse.example/deprecations/get-key"),
        ])
        let node = try await TestNode.start { $0.deprecations = registry }
        let key = try await node.createKey()
        let found = try await node.http("GET", "/v1/keys/\(key.id)")
        let missing = try await node.http("GET", "/v1/keys/key_nope")
        let head = try await node.http("HEAD", "/v1/keys/\(key.id)")
        for (reply, status) in [(found, 200), (missing, 404), (head, 200)] {
            #expect(reply.status == status)
            #expect(reply.header("Deprecation") == "@1767225600")
            #expect(reply.header("Sunset") == "Wed, 01 Jul 2026 00:00:00 GMT")
            #expect(reply.header("Link") == "<https://gatehouse.example/deprecations/get-key>; rel=\"deprecation\"")
            #expect(reply.header(APIVersion.headerName) == APIVersion.current)
        }
        // The other methods of the same path, and other routes, are not deprecated.
        for reply in [
            try await node.http("PATCH", "/v1/keys/\(key.id)", json: ["name": "renamed"]),
            try await node.http("GET", "/v1/keys"),
            try await node.http("POST", "/v1/keys/\(key.id)/revoke"),
        ] {
            #expect(reply.status == 200, "\(reply.text)")
            #expect(reply.header("Deprecation") == nil)
            #expect(reply.header("Sunset") == nil)
            #expect(reply.header("Link") == nil)
        }
        let notices = node.logs.all.filter { $0.contains("deprecated API used") }
        #expect(notices.count == 1, "the first use is logged, once: \(notices)")
        #expect(notices.first?.contains("the key list, by cursor") == true)
        try await node.stop()
    }

    @Test func aDeprecatedFieldIsAnnouncedOnlyWhenARequestUsesIt() async throws {
        let registry = DeprecationRegistry([
            Deprecation("POST", "/v1/verify", field: "request_id", since: "2026-02-01", sunset: "2026-08-03", replacement: "the X-Request-Id header"),
            Deprecation("GET", "/v1/auth", field: "mode", since: "2026-01-01", sunset: "2026-07-01", replacement: "none"),
        ])
        let node = try await TestNode.start { $0.deprecations = registry }
        let key = try await node.createKey()
        let used = try await node.http("POST", "/v1/verify", json: ["key": key.secret, "request_id": "r-1"], token: nil)
        #expect(used.status == 200)
        #expect(used.object["code"] as? String == "VALID", "the body, read for its fields, still reaches the route")
        #expect(used.header("Deprecation") == "@1769904000")
        #expect(used.header("Sunset") == "Mon, 03 Aug 2026 00:00:00 GMT")
        #expect(used.header("Link") == nil, "no documentation URL, no Link")
        let unused = try await node.http("POST", "/v1/verify", json: ["key": key.secret], token: nil)
        #expect(unused.object["code"] as? String == "VALID")
        #expect(unused.header("Deprecation") == nil)
        let badBody = try await node.http("POST", "/v1/verify", raw: Data("{\"request_id\": ".utf8), token: nil)
        #expect(badBody.status == 400)
        #expect(badBody.header("Deprecation") == nil, "a body that is not JSON names no field")
        let query = try await node.http("GET", "/v1/auth?mode=nginx", token: nil, headers: ["X-API-Key": key.secret])
        #expect(query.status == 200)
        #expect(query.header("Deprecation") == "@1767225600", "a query parameter is a field too")
        #expect(try await node.http("GET", "/v1/auth", token: nil, headers: ["X-API-Key": key.secret]).header("Deprecation") == nil)
        try await node.stop()
    }

    @Test func severalDeprecationsOfOneRequestAnnounceTheEarliestDates() {
        let headers = Deprecation.headers(for: [
            Deprecation("POST", "/v1/x", field: "a", since: "2026-02-01", sunset: "2026-08-03", replacement: "b", documentation: "https://d/2"),
            Deprecation("POST", "/v1/x", since: "2026-01-01", sunset: "2026-07-01", replacement: "/v1/y", documentation: "https://d/1"),
        ])
        #expect(headers[.deprecation] == "@1767225600")
        #expect(headers[.sunset] == "Wed, 01 Jul 2026 00:00:00 GMT")
        #expect(headers[.link] == "<https://d/1>; rel=\"deprecation\", <https://d/2>; rel=\"deprecation\"")
        #expect(Deprecation.headers(for: []).isEmpty)
    }

    @Test func theProductsDeprecationsKeepThePromisedNotice() {
        for deprecation in DeprecationRegistry.product.entries {
            #expect(
                deprecation.sunsetAt - deprecation.deprecatedAt >= DeprecationRegistry.minimumNoticeDays * 86_400,
                "\(deprecation.method) \(deprecation.path): README promises \(DeprecationRegistry.minimumNoticeDays) days")
        }
    }

    @Test("HTTP-dates are IMF-fixdate", arguments: [
        (Int64(784_111_777), "Sun, 06 Nov 1994 08:49:37 GMT"),
        (0, "Thu, 01 Jan 1970 00:00:00 GMT"),
        (-1, "Wed, 31 Dec 1969 23:59:59 GMT"),
        (1_782_864_000, "Wed, 01 Jul 2026 00:00:00 GMT"),
        (951_782_400, "Tue, 29 Feb 2000 00:00:00 GMT"),
    ])
    func httpDates(seconds: Int64, text: String) {
        #expect(HTTPDate.format(unixSeconds: seconds) == text)
    }

    @Test func helloAndInfoReportTheGatehouseProtocol() async throws {
        let node = try await TestNode.start()
        let resp3 = try await node.client()
        let map = try await resp3.send(["HELLO", "3"])
        #expect(map.fields?["gatehouse_protocol"] == .integer(Int64(GatehouseProtocolVersion.current)))
        #expect(map.fields?["proto"] == .integer(3), "the RESP dialect is still `proto`")
        let resp2 = try await node.client()
        let flat = try await resp2.send(["HELLO", "2"])
        #expect(flat.fields?["gatehouse_protocol"] == .integer(Int64(GatehouseProtocolVersion.current)))
        let info = try await resp2.send(["INFO"])
        #expect(info.string?.contains("gatehouse_protocol:\(GatehouseProtocolVersion.current)\r\n") == true)
        try await resp3.close()
        try await resp2.close()
        try await node.stop()
    }
}
