import Foundation
import GRPCCore
import GatehouseCore
import GatehouseEnvoyProto
@testable import GatehouseNode
import Testing

/// Issue 13 part 4: a request id from each entry point (HTTP `X-Request-Id`, forward auth,
/// RESP `RID`, Envoy ext_authz's `x-request-id`) reaches the log lines, the access line, the
/// audit entry and the answer; access lines never hold a key.
@Suite("Request ids and the access log", .timeLimit(.minutes(5)))
struct RequestIDTests {
    /// The access lines a node wrote, parsed.
    static func accessLines(_ node: TestNode) -> [[String: Any]] {
        node.logs.all.compactMap { line in
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                object["event.dataset"] as? String == AccessLog.dataset
            else { return nil }
            return object
        }
    }

    static func accessLine(_ node: TestNode, id: String) async throws -> [String: Any] {
        try await eventually("an access line with id \(id)") { accessLines(node).contains { $0["trace.id"] as? String == id } }
        return try #require(accessLines(node).first { $0["trace.id"] as? String == id })
    }

    /// No run of 6 characters of the secret's random part is in `text`: the line shows at most
    /// what `APIKeyFormat.redacted` does, which for a well-formed key is nothing of it.
    static func expectNoPartOf(_ secret: String, in text: String, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(APIKeyFormat.redacted(secret) == "(redacted key)")
        let random = Array(secret.split(separator: "_", maxSplits: 1).last ?? "")
        for start in 0...(random.count - 6) {
            let piece = String(random[start..<start + 6])
            #expect(!text.contains(piece), "a piece of the key (\(piece)) is in: \(text)", sourceLocation: sourceLocation)
        }
    }

    @Test func anHTTPVerifysIDReachesItsAccessLineAndAnswerWithoutTheKey() async throws {
        let node = try await TestNode.start()
        let key = try await node.createKey(["owner": "acct_http", "name": "traced"])
        let reply = try await node.http(
            "POST", "/v1/verify", json: ["key": key.secret], headers: ["X-Request-Id": "rid-http-1", "User-Agent": "probe/1.0"])
        #expect(reply.status == 200)
        #expect(reply.header("X-Request-Id") == "rid-http-1")
        let line = try await Self.accessLine(node, id: "rid-http-1")
        #expect(line["http.request.id"] as? String == "rid-http-1")
        #expect(line["gatehouse.key_id"] as? String == key.id)
        #expect(line["gatehouse.owner"] as? String == "acct_http")
        #expect(line["gatehouse.code"] as? String == "VALID")
        #expect(line["http.request.method"] as? String == "POST")
        #expect(line["url.path"] as? String == "/v1/verify")
        #expect(line["http.response.status_code"] as? Int == 200)
        #expect(line["source.ip"] as? String == "127.0.0.1")
        #expect(line["user_agent.original"] as? String == "probe/1.0")
        #expect(line["log.level"] as? String == "info")
        #expect(line["@timestamp"] is String)
        #expect((line["event.duration"] as? Int ?? -1) >= 0)
        let raw = try #require(node.logs.all.first { $0.contains("\"trace.id\":\"rid-http-1\"") })
        Self.expectNoPartOf(key.secret, in: raw)
        try await node.stop()
    }

    @Test func forwardAuthCarriesTheProxysIDIntoItsAccessLineAndAnswer() async throws {
        let node = try await TestNode.start()
        let key = try await node.createKey(["owner": "acct_fwd"])
        let allowed = try await node.http("GET", "/v1/auth", token: key.secret, headers: ["X-Request-Id": "rid-fwd-1"])
        #expect(allowed.status == 200)
        #expect(allowed.header("X-Request-Id") == "rid-fwd-1")
        let line = try await Self.accessLine(node, id: "rid-fwd-1")
        #expect(line["gatehouse.key_id"] as? String == key.id)
        #expect(line["url.path"] as? String == "/v1/auth")
        let refused = try await node.http("GET", "/v1/auth", token: "gk_" + String(repeating: "Z", count: 36), headers: ["X-Request-Id": "rid-fwd-2"])
        #expect(refused.status == 401)
        #expect(refused.header("X-Request-Id") == "rid-fwd-2")
        #expect(try await Self.accessLine(node, id: "rid-fwd-2")["http.response.status_code"] as? Int == 401)
        try await node.stop()
    }

    @Test func errorsAndUnknownPathsCarryTheIDAndGetAnAccessLine() async throws {
        let node = try await TestNode.start()
        for (method, path, status) in [("GET", "/nowhere", 404), ("DELETE", "/v1/keys", 405), ("GET", "/v1/keys/key_none", 404)] {
            let id = "rid-\(status)-\(path.count)"
            let reply = try await node.http(method, path, headers: ["X-Request-Id": id])
            #expect(reply.status == status, "\(method) \(path)")
            #expect(reply.header("X-Request-Id") == id, "\(method) \(path)")
            #expect(try await Self.accessLine(node, id: id)["http.response.status_code"] as? Int == status)
        }
        let unauthorized = try await node.http("GET", "/v1/keys", token: nil)
        #expect(unauthorized.status == 401)
        #expect(unauthorized.header("X-Request-Id")?.count == 16)
        try await node.stop()
    }

    @Test func anAdminWritesIDReachesItsLogLineAuditEntryAndAccessLine() async throws {
        let node = try await TestNode.start()
        let created = try await node.http("POST", "/v1/keys", json: ["owner": "acct_audit"], headers: ["X-Request-Id": "rid-audit-1"])
        #expect(created.status == 201)
        #expect(created.header("X-Request-Id") == "rid-audit-1")
        let id = try #require(created.object["id"] as? String)
        let trail = try await node.http("GET", "/v1/audit?key_id=\(id)")
        let entries = try #require(trail.object["entries"] as? [[String: Any]])
        #expect(entries.first?["request_id"] as? String == "rid-audit-1")
        #expect(node.logs.all.contains { $0.contains("key created") && $0.contains("\"request_id\":\"rid-audit-1\"") })
        let line = try await Self.accessLine(node, id: "rid-audit-1")
        #expect(line["gatehouse.actor"] as? String == "admin")
        #expect(line["gatehouse.key_id"] as? String == id)
        #expect(line["gatehouse.owner"] as? String == "acct_audit")
        try await node.stop()
    }

    @Test func aRESPVerifysRIDReachesItsLogLineAndAccessLineWithoutTheKey() async throws {
        let node = try await TestNode.start { $0.accessLog.resp = .full }
        let key = try await node.createKey(["owner": "acct_resp"])
        let client = try await node.client()
        let echoed = try await client.send(["VERIFY", key.secret, "RID", "rid-resp-1"])
        let made = try await client.send(["VERIFY", key.secret])
        let replaced = try await client.send(["VERIFY", key.secret, "IP", "198.51.100.7", "RID", "has space"])
        try await client.close()
        #expect(echoed.fields?["request_id"]?.string == "rid-resp-1")
        let line = try await Self.accessLine(node, id: "rid-resp-1")
        #expect(line["gatehouse.command"] as? String == "VERIFY")
        #expect(line["gatehouse.key_id"] as? String == key.id)
        #expect(line["gatehouse.owner"] as? String == "acct_resp")
        #expect(line["gatehouse.code"] as? String == "VALID")
        #expect(line["source.ip"] as? String == "127.0.0.1")
        #expect(line["url.path"] == nil && line["http.response.status_code"] == nil)
        #expect(node.logs.all.contains { $0.contains("\"msg\":\"verify\"") && $0.contains("\"request_id\":\"rid-resp-1\"") })
        let resp = Self.accessLines(node).filter { $0["gatehouse.command"] as? String == "VERIFY" }
        #expect(resp.count == 3)
        let generated = resp.compactMap { $0["trace.id"] as? String }.filter { $0 != "rid-resp-1" }
        #expect(generated.count == 2 && generated.allSatisfy { $0.count == 16 })
        // The ids made for the access lines are the ones the replies carry.
        let repliedIDs = [made, replaced].compactMap { $0.fields?["request_id"]?.string }
        #expect(repliedIDs == generated)
        #expect(resp.contains { $0["source.ip"] as? String == "198.51.100.7" })
        for raw in node.logs.all where raw.contains("\"gatehouse.command\"") {
            Self.expectNoPartOf(key.secret, in: raw)
        }
        try await node.stop()
    }

    /// The reply carries the request's id whenever it has one; none is made for a plain verify
    /// that nothing logs (the hot path: no access line, no debug line), unless `FIELDS` names
    /// `request_id`.
    @Test func aRESPVerifysReplyCarriesTheRequestsID() async throws {
        let node = try await TestNode.start(logLevel: .info)
        let key = try await node.createKey()
        let revoked = try await node.createKey()
        #expect(try await node.http("POST", "/v1/keys/\(revoked.id)/revoke").status == 200)
        let client = try await node.client()
        func repliedID(_ arguments: [String]) async throws -> String? {
            let reply = try #require(try await client.send(["VERIFY"] + arguments).fields, "a VERIFY answer")
            #expect(reply["code"] != nil || arguments.contains("FIELDS"))
            return reply["request_id"]?.string
        }
        #expect(try await repliedID([key.secret]) == nil)
        #expect(try await repliedID([key.secret, "RID", "rid-echo-1"]) == "rid-echo-1")
        let replaced = try await repliedID([key.secret, "RID", "has space"])
        #expect(replaced?.count == 16 && replaced != "has space")
        #expect(try await repliedID([key.secret, "RID", "rid-echo-2", "FIELDS", "code"]) == nil, "FIELDS without request_id")
        #expect(try await repliedID([key.secret, "RID", "rid-echo-3", "FIELDS", "code,request_id"]) == "rid-echo-3")
        let asked = try #require(try await repliedID([key.secret, "FIELDS", "request_id"]))
        #expect(asked.count == 16)
        // A refusal that is an event made an id: the reply carries the event's.
        let eventID = try #require(try await repliedID([revoked.secret, "IP", "198.51.100.9"]))
        let event = try await SecurityEventTests.event(node, .keyRevokedInUse)
        #expect(event["trace.id"] as? String == eventID)
        // RESP2 and RESP3 alike.
        _ = try await client.send(["HELLO", "3"])
        #expect(try await repliedID([key.secret, "RID", "rid-echo-4"]) == "rid-echo-4")
        try await client.close()
        try await node.stop()
    }

    @Test func theRESPAccessLogIsOffByDefaultAndSampledWhenAsked() async throws {
        let quiet = try await TestNode.start()
        let key = try await quiet.createKey()
        let client = try await quiet.client()
        for _ in 0..<4 { _ = try await client.send(["VERIFY", key.secret, "RID", "rid-quiet"]) }
        try await client.close()
        try await quiet.stop()
        #expect(!Self.accessLines(quiet).contains { $0["gatehouse.command"] != nil })

        let sampled = try await TestNode.start { config in
            config.accessLog.resp = .sampled
            config.accessLog.sampleRate = 0.25
        }
        let sampledKey = try await sampled.createKey()
        let sampledClient = try await sampled.client()
        for index in 0..<8 { _ = try await sampledClient.send(["VERIFY", sampledKey.secret, "RID", "rid-s\(index)"]) }
        try await sampledClient.close()
        try await sampled.stop()
        let ids = Self.accessLines(sampled).compactMap { $0["gatehouse.command"] != nil ? $0["trace.id"] as? String : nil }
        #expect(ids == ["rid-s0", "rid-s4"])
    }

    @Test func httpAccessLinesCanBeTurnedOff() async throws {
        let node = try await TestNode.start { $0.accessLog.http = .off }
        #expect(try await node.http("GET", "/healthz", token: nil, headers: ["X-Request-Id": "rid-off"]).header("X-Request-Id") == "rid-off")
        try await node.stop()
        #expect(Self.accessLines(node).isEmpty)
    }

    @Test func envoysRequestIDReachesTheCheckAccessLineAndARefusal() async throws {
        let node = try await EnvoyGRPCServiceTests.start { $0.accessLog.grpc = .full }
        let key = try await node.createKey(["owner": "acct_envoy", "scopes": ["orders:read"]])
        try await EnvoyGRPCServiceTests.withClient(node) { client in
            let authorizer = Envoy_Service_Auth_V3_Authorization.Client(wrapping: client)
            func check(_ headers: [String: String]) async throws -> Envoy_Service_Auth_V3_CheckResponse {
                var request = Envoy_Service_Auth_V3_CheckRequest()
                request.attributes.request.http.headers = headers
                request.attributes.request.http.path = "/orders/1?secret=no"
                request.attributes.request.http.method = "GET"
                return try await authorizer.check(request)
            }
            let allowed = try await check(["x-api-key": key.secret, "x-request-id": "rid-envoy-1", "user-agent": "curl/8"])
            #expect(allowed.status.code == 0)
            let refused = try await check(["x-api-key": "gk_" + String(repeating: "Z", count: 36), "x-request-id": "rid-envoy-2"])
            #expect(refused.deniedResponse.headers.contains { $0.header.key == "x-request-id" && $0.header.value == "rid-envoy-2" })
        }
        let line = try await Self.accessLine(node, id: "rid-envoy-1")
        #expect(line["gatehouse.command"] as? String == "Check")
        #expect(line["gatehouse.key_id"] as? String == key.id)
        #expect(line["url.path"] as? String == "/orders/1")
        #expect(line["user_agent.original"] as? String == "curl/8")
        #expect(try await Self.accessLine(node, id: "rid-envoy-2")["gatehouse.code"] as? String != "VALID")
        let raw = try #require(node.logs.all.first { $0.contains("\"trace.id\":\"rid-envoy-1\"") })
        Self.expectNoPartOf(key.secret, in: raw)
        try await node.stop()
    }

    /// ShouldRateLimit carries no request headers: the gateway's id comes as call metadata,
    /// and a call without one gets an id of the node's own; either comes back as the answer's
    /// `x-request-id` metadata.
    @Test func aRateLimitCallsMetadataIDReachesItsAccessLineAndAnswer() async throws {
        let node = try await EnvoyGRPCServiceTests.start { $0.accessLog.grpc = .full }
        try await EnvoyGRPCServiceTests.withLimiter(node) { limiter in
            var metadata = Metadata()
            metadata.addString("rid-rls-1", forKey: "x-request-id")
            func answeredID(_ metadata: Metadata) async throws -> String? {
                try await limiter.shouldRateLimit(EnvoyGRPCServiceTests.request([("path", "/login")]), metadata: metadata) { response in
                    _ = try response.message
                    return response.metadata[stringValues: "x-request-id"].first { _ in true }
                }
            }
            #expect(try await answeredID(metadata) == "rid-rls-1")
            let made = try #require(try await answeredID([:]))
            #expect(made.count == 16)
            #expect(try await Self.accessLine(node, id: made)["gatehouse.command"] as? String == "ShouldRateLimit")
            var spaced = Metadata()
            spaced.addString("has space", forKey: "x-request-id")
            #expect(try await answeredID(spaced)?.count == 16)
        }
        let line = try await Self.accessLine(node, id: "rid-rls-1")
        #expect(line["gatehouse.command"] as? String == "ShouldRateLimit")
        try await eventually("the call without an id has a line too") {
            Self.accessLines(node).filter { $0["gatehouse.command"] as? String == "ShouldRateLimit" }.count == 3
        }
        let ids = Self.accessLines(node).compactMap { $0["trace.id"] as? String }
        #expect(Set(ids).count == ids.count, "each call its own id")
        try await node.stop()
    }

    @Test func accessLinesAreWrittenWhenTheNodeLogsOnlyWarnings() throws {
        let capture = LogCapture()
        let log = AccessLog(logger: capture.logger(level: .warning), settings: AccessLogSettings())
        log.write(AccessLog.Entry(requestID: RequestID.from(header: "rid-quiet-node"), command: "VERIFY", code: "VALID", durationNanoseconds: 1200))
        capture.logger(level: .warning).info("not an access line")
        #expect(capture.all.count == 1)
        let line = try #require(capture.all.first)
        #expect(line.contains("\"trace.id\":\"rid-quiet-node\"") && line.contains("\"event.duration\":1200"))
    }

    @Test func theAccessLogSectionIsReadAndTyposAreRefused() throws {
        func load(_ section: String) throws -> NodeConfig {
            try ConfigLoader.load(yaml: "access_log:\n\(section)nodes:\n  - {id: n1}\n", nodeID: nil, environment: [:], baseDirectory: ".")
        }
        let config = try load("  http: off\n  resp: sampled\n  grpc: full\n  sample_rate: 0.001\n")
        #expect(config.accessLog.http == .off && config.accessLog.resp == .sampled && config.accessLog.grpc == .full)
        #expect(config.accessLog.sampleEvery == 1000)
        #expect(NodeConfig().accessLog.resp == .off && NodeConfig().accessLog.grpc == .off && NodeConfig().accessLog.http == .full)
        for bad in ["  resp: sometimes\n", "  resp: full\n  sample_rate: 2\n", "  http: sampled\n", "  rsep: full\n"] {
            #expect(throws: ConfigError.self, "\(bad)") { try load(bad) }
        }
    }
}
