import Foundation
import GatehouseClient
import GatehouseCore
import GatehouseEnvoyProto
import GRPCCore
import GatehouseMembership
@testable import GatehouseNode
import NIOCore
import NIOPosix
import Testing

/// Issue 13 part 3: every security event type, each caused through a real entry point of a
/// real node and read back from `GET /v1/events`, with the request id that caused it; the
/// metric, the JSON-line output, long poll and server-sent events; never a secret.
@Suite("Security events", .timeLimit(.minutes(5)))
struct SecurityEventTests {
    static let gatewayToken = "gw-token-events-0123456789"

    /// Every event the node holds, as `GET /v1/events` answers them.
    static func events(_ node: TestNode, after cursor: Int = 0) async throws -> [[String: Any]] {
        let reply = try await node.http("GET", "/v1/events?cursor=\(cursor)&limit=1000")
        #expect(reply.status == 200, "\(reply.text)")
        return reply.object["events"] as? [[String: Any]] ?? []
    }

    /// Waits for the first event with this action (and matching `where`), and returns it.
    static func event(
        _ node: TestNode, _ action: SecurityEventType, sourceLocation: SourceLocation = #_sourceLocation,
        where matches: @escaping ([String: Any]) -> Bool = { _ in true }
    ) async throws -> [String: Any] {
        var found: [String: Any]?
        try await eventually("a \(action.rawValue) event", sourceLocation: sourceLocation) {
            found = try await events(node).first { $0["event.action"] as? String == action.rawValue && matches($0) }
            return found != nil
        }
        return try #require(found, sourceLocation: sourceLocation)
    }

    static func expectECS(_ event: [String: Any], _ type: SecurityEventType, node: String = "n1", sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(event["event.kind"] as? String == type.kind, sourceLocation: sourceLocation)
        #expect(event["event.category"] as? [String] == type.category, sourceLocation: sourceLocation)
        #expect(event["event.type"] as? [String] == type.ecsType, sourceLocation: sourceLocation)
        #expect(event["event.outcome"] as? String == type.outcome, sourceLocation: sourceLocation)
        #expect(event["event.dataset"] as? String == "gatehouse.security", sourceLocation: sourceLocation)
        #expect(event["host.name"] as? String == node, sourceLocation: sourceLocation)
        #expect((event["@timestamp"] as? String)?.hasSuffix("Z") == true, sourceLocation: sourceLocation)
        #expect((event["event.sequence"] as? Int ?? 0) >= 1, sourceLocation: sourceLocation)
        #expect(!(event["message"] as? String ?? "").isEmpty, sourceLocation: sourceLocation)
    }

    static func start(configure: (inout NodeConfig) -> Void = { _ in }) async throws -> TestNode {
        try await TestNode.start { config in
            config.nodeID = "n1"
            config.accessLog.resp = .full
            config.events.windowMs = 1_000
            config.events.burstThreshold = 3
            configure(&config)
        }
    }

    // MARK: Keys in use that should not be

    @Test func aRevokedKeyOverRESPIsAnEventWithItsKeyIDSourceAndRID() async throws {
        let node = try await Self.start()
        let key = try await node.createKey(["owner": "acct_revoked"])
        #expect(try await node.http("POST", "/v1/keys/\(key.id)/revoke", headers: ["X-Request-Id": "rid-revoke-admin"]).status == 200)
        let client = try await node.client()
        _ = try await client.send(["VERIFY", key.secret, "IP", "198.51.100.7", "RID", "rid-revoked-1"])
        _ = try await client.send(["VERIFY", key.secret, "IP", "198.51.100.7", "RID", "rid-revoked-2"])
        try await client.close()
        let event = try await Self.event(node, .keyRevokedInUse)
        Self.expectECS(event, .keyRevokedInUse)
        #expect(event["gatehouse.key_id"] as? String == key.id)
        #expect(event["source.ip"] as? String == "198.51.100.7")
        #expect(event["related.ip"] as? [String] == ["198.51.100.7"])
        #expect(event["trace.id"] as? String == "rid-revoked-1")
        #expect(try await Self.events(node).filter { $0["event.action"] as? String == "key_revoked_in_use" }.count == 1, "once per key, source and window")
        // The same request id in the access line; the admin request's in its audit entry.
        let access = try await RequestIDTests.accessLine(node, id: "rid-revoked-1")
        #expect(access["gatehouse.code"] as? String == "REVOKED")
        let trail = try await node.http("GET", "/v1/audit?key_id=\(key.id)")
        let entries = try #require(trail.object["entries"] as? [[String: Any]])
        #expect(entries.contains { $0["request_id"] as? String == "rid-revoke-admin" })
        #expect(try await node.metric("gatehouse_security_events_total{type=\"key_revoked_in_use\"}") == 1)
        RequestIDTests.expectNoPartOf(key.secret, in: try await node.http("GET", "/v1/events").text)
        try await node.stop()
    }

    @Test func disabledAndExpiredKeysAndAMissingScopeAreEvents() async throws {
        let node = try await Self.start()
        let disabled = try await node.createKey(["owner": "acct_off", "enabled": false])
        let expiring = try await node.createKey(["owner": "acct_exp", "expires_at": JSONTime.format(node.clock.nowMs + 1_000)])
        let scoped = try await node.createKey(["owner": "acct_scope", "scopes": ["read"]])
        node.clock.advance(byMs: 2_000)
        let client = try await node.client()
        #expect(try await client.verify(disabled.secret, ip: "198.51.100.8", requestID: "rid-disabled").code == .disabled)
        #expect(try await client.verify(expiring.secret, ip: "198.51.100.9", requestID: "rid-expired").code == .expired)
        #expect(try await client.verify(scoped.secret, scopes: ["write"], ip: "198.51.100.10", requestID: "rid-scope").code == .insufficientScope)
        try await client.close()
        for (type, key, ip, rid) in [
            (SecurityEventType.keyDisabledInUse, disabled.id, "198.51.100.8", "rid-disabled"),
            (.keyExpiredInUse, expiring.id, "198.51.100.9", "rid-expired"), (.scopeRefused, scoped.id, "198.51.100.10", "rid-scope"),
        ] {
            let event = try await Self.event(node, type)
            Self.expectECS(event, type)
            #expect(event["gatehouse.key_id"] as? String == key)
            #expect(event["source.ip"] as? String == ip)
            #expect(event["trace.id"] as? String == rid)
        }
        try await node.stop()
    }

    @Test func rateLimitRefusalsAreOneEventPerKeyAndWindowWithTheirCount() async throws {
        let node = try await Self.start()
        let key = try await node.createKey(["owner": "acct_rl", "limits": [["name": "w", "limit": 2, "window_ms": 60_000]]])
        let client = try await node.client()
        var refused = 0
        for n in 0..<7 where try await client.verify(key.secret, requestID: "rid-rl-\(n)").code == .rateLimited { refused += 1 }
        try await client.close()
        #expect(refused == 5)
        #expect(try await Self.events(node).isEmpty, "nothing until the window ends")
        node.clock.advance(byMs: 1_000)
        let event = try await Self.event(node, .rateLimited)
        Self.expectECS(event, .rateLimited)
        #expect(event["gatehouse.key_id"] as? String == key.id)
        #expect(event["gatehouse.count"] as? Int == 5)
        #expect(event["trace.id"] as? String == "rid-rl-2")
        #expect(event["event.start"] is String)
        #expect(try await node.metric("gatehouse_security_events_total{type=\"rate_limited\"}") == 1)
        try await node.stop()
    }

    @Test func aRevokedKeyThroughEnvoyExtAuthzCarriesEnvoysRequestID() async throws {
        let node = try await EnvoyGRPCServiceTests.start { $0.events.windowMs = 1_000 }
        let key = try await node.createKey(["owner": "acct_envoy_revoked"])
        #expect(try await node.http("POST", "/v1/keys/\(key.id)/revoke").status == 200)
        try await EnvoyGRPCServiceTests.withClient(node) { client in
            let authorizer = Envoy_Service_Auth_V3_Authorization.Client(wrapping: client)
            var request = Envoy_Service_Auth_V3_CheckRequest()
            request.attributes.request.http.headers = ["x-api-key": key.secret, "x-request-id": "rid-envoy-revoked"]
            request.attributes.request.http.path = "/orders/1"
            request.attributes.request.http.method = "GET"
            let answer = try await authorizer.check(request)
            #expect(answer.status.code != 0)
        }
        let event = try await Self.event(node, .keyRevokedInUse)
        #expect(event["gatehouse.key_id"] as? String == key.id)
        #expect(event["trace.id"] as? String == "rid-envoy-revoked")
        try await node.stop()
    }

    // MARK: Sources

    @Test func unknownKeysFromOneSourceBurstThenThrottleThenRelease() async throws {
        let node = try await Self.start { config in
            config.decision.failedAttemptLimit = 5
            config.decision.failedAttemptWindowMs = 1_000
        }
        let client = try await node.client()
        // Malformed and well-formed unknown keys both count; only a well-formed one gets as far as the throttle.
        var random = SystemRandomNumberGenerator()
        let unknown = APIKeyFormat.generate(prefix: "gk", using: &random)
        for n in 0..<5 {
            let key = n % 2 == 0 ? "gk_malformed\(n)" : APIKeyFormat.generate(prefix: "gk", using: &random)
            #expect(try await client.verify(key, ip: "203.0.113.9", requestID: "rid-guess-\(n)").code != .valid)
        }
        #expect(try await client.verify(unknown, ip: "203.0.113.9", requestID: "rid-throttled").code == .sourceThrottled)
        let burst = try await Self.event(node, .keyGuessingBurst)
        Self.expectECS(burst, .keyGuessingBurst)
        #expect(burst["source.ip"] as? String == "203.0.113.9")
        #expect(burst["trace.id"] as? String == "rid-guess-2")
        #expect(burst["gatehouse.count"] as? Int == 3)
        let throttled = try await Self.event(node, .sourceThrottled)
        Self.expectECS(throttled, .sourceThrottled)
        #expect(throttled["source.ip"] as? String == "203.0.113.9")
        #expect(throttled["trace.id"] as? String == "rid-throttled")
        // Two windows later the sliding count is below the limit again.
        node.clock.advance(byMs: 2_500)
        let released = try await Self.event(node, .sourceReleased)
        Self.expectECS(released, .sourceReleased)
        #expect(released["source.ip"] as? String == "203.0.113.9")
        #expect(try await client.verify(unknown, ip: "203.0.113.9").code == .notFound)
        try await client.close()
        try await node.stop()
    }

    // MARK: Tokens

    @Test func aWrongAdminTokenIsAnEventWithTheRequestsID() async throws {
        let node = try await Self.start()
        let reply = try await node.http("GET", "/v1/keys", token: "not-the-admin-token-0123456789", headers: ["X-Request-Id": "rid-admin-bad"])
        #expect(reply.status == 401)
        let event = try await Self.event(node, .adminAuthFailed)
        Self.expectECS(event, .adminAuthFailed)
        #expect(event["trace.id"] as? String == "rid-admin-bad")
        #expect(event["source.ip"] as? String == "127.0.0.1")
        let access = try await RequestIDTests.accessLine(node, id: "rid-admin-bad")
        #expect(access["http.response.status_code"] as? Int == 401)
        let all = try await node.http("GET", "/v1/events").text
        #expect(!all.contains("not-the-admin-token"))
        #expect(!all.contains(TestNode.adminToken))
        try await node.stop()
    }

    @Test func wrongGatewayTokensOverRESPAndHTTPAreEvents() async throws {
        let node = try await Self.start { $0.gatewayTokens = [Self.gatewayToken] }
        let client = try await node.client()
        await #expect(throws: (any Error).self) { _ = try await client.send(["AUTH", "wrong-gateway-token-0123"]) }
        try? await client.close()
        let first = try await Self.event(node, .gatewayAuthFailed)
        Self.expectECS(first, .gatewayAuthFailed)
        #expect(first["source.ip"] as? String == "127.0.0.1")
        let reply = try await node.http(
            "POST", "/v1/verify", json: ["key": "gk_whatever"], token: "wrong-gateway-token-0456", headers: ["X-Request-Id": "rid-gw-bad"])
        #expect(reply.status == 401)
        let second = try await Self.event(node, .gatewayAuthFailed) { $0["trace.id"] as? String == "rid-gw-bad" }
        #expect(second["source.ip"] as? String == "127.0.0.1")
        let all = try await node.http("GET", "/v1/events").text
        #expect(!all.contains("wrong-gateway-token"))
        #expect(!all.contains(Self.gatewayToken))
        try await node.stop()
    }

    // MARK: The cluster

    @Test func gossipSealedWithAnotherKeyIsAnEvent() async throws {
        let gossipPort = try FreePort.find()
        let node = try await Self.start { config in
            config.cluster = ClusterConfig(
                gossipAddress: HostPort(host: "127.0.0.1", port: gossipPort), seeds: [], gossipKeys: [ReplicationTests.gossipKey])
        }
        let forger = try ClusterKeyring(base64Keys: ["ZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmY="], clusterName: "gatehouse")
        var random = SystemRandomNumberGenerator()
        let plaintext = [UInt8](repeating: 1, count: 32)
        let sealed = forger.seal(plaintext, using: &random)
        let sender = try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton).bind(host: "127.0.0.1", port: 0).get()
        let target = try SocketAddress(ipAddress: "127.0.0.1", port: gossipPort)
        for _ in 0..<3 { try await sender.writeAndFlush(AddressedEnvelope(remoteAddress: target, data: ByteBuffer(bytes: sealed))) }
        let event = try await Self.event(node, .gossipAuthFailed)
        Self.expectECS(event, .gossipAuthFailed)
        #expect((event["source.ip"] as? String)?.hasPrefix("127.0.0.1:") == true)
        try await eventually("all three packets counted") {
            try await node.metric("gatehouse_gossip_dropped_packets_total{reason=\"not_authentic\"}") ?? 0 >= 3
        }
        #expect(try await node.metric("gatehouse_security_events_total{type=\"gossip_auth_failed\"}") == 1, "once per address and window")
        let all = try await node.http("GET", "/v1/events").text
        #expect(!all.contains(ReplicationTests.gossipKey))
        try await sender.close()
        try await node.stop()
    }

    /// Records from a peer whose clock is an hour ahead, through the function the data plane
    /// hands every replicated batch to.
    @Test func replicatedRecordsFromTheFutureAreAClockSkewEvent() async throws {
        let node = try await Self.start()
        var ahead = try ReplicaPersistenceTests.remote("ahead", wallMs: node.clock.nowMs + 3_600_000).record
        ahead.version = HybridTimestamp(wallMs: node.clock.nowMs + 3_600_000, logical: 0, node: "n2")
        #expect(node.server.service.applyReplicated([ahead]).rejected == [.clockSkew: 1])
        let event = try await Self.event(node, .clockSkewRejected)
        Self.expectECS(event, .clockSkewRejected)
        #expect(event["gatehouse.member"] as? String == "n2")
        #expect(event["gatehouse.key_id"] as? String == ahead.id)
        #expect(event["gatehouse.count"] as? Int == 1)
        try await node.stop()
    }

    @Test func aMemberThatStopsAnsweringIsSuspectedThenDeclaredDead() async throws {
        let nodes = try await ReplicationTests.cluster(2)
        nodes[1].server.gossip?.setIsolated(true)
        let suspected = try await Self.event(nodes[0], .memberSuspected)
        Self.expectECS(suspected, .memberSuspected)
        #expect(suspected["gatehouse.member"] as? String == "n2")
        var dead: [String: Any]?
        try await eventually("n1 declares n2 dead", timeout: .seconds(30)) {
            dead = try await Self.events(nodes[0]).first { $0["event.action"] as? String == "member_dead" }
            return dead != nil
        }
        let found = try #require(dead)
        Self.expectECS(found, .memberDead)
        #expect(found["gatehouse.member"] as? String == "n2")
        for node in nodes { try await node.stop() }
    }

    // MARK: Reading events

    @Test func aLongPollAnswersWhenAnEventArrivesAndCursorsPage() async throws {
        let node = try await Self.start()
        let started = ContinuousClock.now
        // Whether the poll gets to the node before or after the event, the event is after cursor 0.
        let poll = Task { try await node.http("GET", "/v1/events?cursor=0&wait_ms=20000") }
        _ = try await node.http("GET", "/v1/keys", token: "wrong-admin-token-000000000", headers: ["X-Request-Id": "rid-poll"])
        let reply = try await poll.value
        #expect(ContinuousClock.now - started < .seconds(15), "answered when the event came, not at the end of the wait")
        let events = try #require(reply.object["events"] as? [[String: Any]])
        #expect(events.first?["trace.id"] as? String == "rid-poll")
        #expect(reply.object["next_cursor"] as? Int == 1)
        #expect(reply.object["missed"] as? Int == 0)
        let empty = try await node.http("GET", "/v1/events?cursor=1&wait_ms=50")
        #expect((empty.object["events"] as? [Any])?.isEmpty == true)
        #expect(empty.object["next_cursor"] as? Int == 1)
        #expect(try await node.http("GET", "/v1/events?limit=0").status == 400)
        #expect(try await node.http("GET", "/v1/events?cursor=x").status == 400)
        #expect(try await node.http("GET", "/v1/events", token: nil).status == 401)
        try await node.stop()
    }

    @Test func aCursorOlderThanTheRingSaysHowManyWereMissed() async throws {
        let node = try await Self.start { $0.events.ringSize = 2 }
        for n in 0..<4 {
            _ = try await node.http("GET", "/v1/keys", token: "wrong-admin-token-00000000\(n)", headers: ["X-Request-Id": "rid-ring-\(n)"])
        }
        try await eventually("four events") { try await node.metric("gatehouse_security_events_total{type=\"admin_auth_failed\"}") == 4 }
        let reply = try await node.http("GET", "/v1/events?cursor=0")
        #expect(reply.object["missed"] as? Int == 2)
        #expect((reply.object["events"] as? [[String: Any]])?.compactMap { $0["trace.id"] as? String } == ["rid-ring-2", "rid-ring-3"])
        #expect(reply.object["next_cursor"] as? Int == 4)
        try await node.stop()
    }

    @Test func serverSentEventsCarryIDsAndHonourLastEventID() async throws {
        let node = try await Self.start()
        for n in 0..<3 {
            _ = try await node.http("GET", "/v1/keys", token: "wrong-admin-token-00000000\(n)", headers: ["X-Request-Id": "rid-sse-\(n)"])
        }
        let connection = try await RawConnection.open(node.endpoints.http)
        try await connection.send(
            "GET /v1/events?wait_ms=60000 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \(TestNode.adminToken)\r\n"
                + "Accept: text/event-stream\r\nLast-Event-ID: 1\r\n\r\n")
        let text = try await connection.waitFor { $0.contains("id: 3\n") }
        #expect(text.contains("text/event-stream"))
        #expect(!text.contains("id: 1\n"), "Last-Event-ID 1: the stream starts after it")
        #expect(text.contains("id: 2\nevent: admin_auth_failed\ndata: {"))
        #expect(text.contains("\"trace.id\":\"rid-sse-2\""))
        // A new event reaches the open stream.
        _ = try await node.http("GET", "/v1/keys", token: "wrong-admin-token-000000009", headers: ["X-Request-Id": "rid-sse-live"])
        let later = try await connection.waitFor { $0.contains("rid-sse-live") }
        #expect(later.contains("id: 4\n"))
        await connection.close()
        try await node.stop()
    }

    @Test func openEventStreamsAndLongPollsDoNotHoldUpAShutdown() async throws {
        let node = try await Self.start()
        let connection = try await RawConnection.open(node.endpoints.http)
        try await connection.send(
            "GET /v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \(TestNode.adminToken)\r\nAccept: text/event-stream\r\n\r\n")
        _ = try await connection.waitFor { $0.contains("retry: 1000") }
        let poll = Task { try? await node.http("GET", "/v1/events?wait_ms=60000") }
        try await eventually("the long poll is waiting") { node.server.service.events.waiterCount >= 2 }
        let started = ContinuousClock.now
        try await node.stop()
        // Alone this takes a tenth of a second; the bound only has to tell "ended with the node"
        // from "waited for the poll's minute" on a machine busy with the whole suite (20 s seen).
        #expect(ContinuousClock.now - started < .seconds(50), "a 5-minute stream and a 1-minute poll ended with the node")
        _ = await poll.value
        await connection.close()
    }

    @Test func eventsAreWrittenAsJSONLinesToTheConfiguredFile() async throws {
        let path = TemporaryDirectory.make() + "/events.jsonl"
        let node = try await Self.start { config in
            config.events.output = .file
            config.events.path = path
        }
        _ = try await node.http("GET", "/v1/keys", token: "wrong-admin-token-0000000001", headers: ["X-Request-Id": "rid-file"])
        var lines: [[String: Any]] = []
        try await eventually("a line in \(path)") {
            let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
            lines = text.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
            return !lines.isEmpty
        }
        #expect(lines.first?["event.action"] as? String == "admin_auth_failed")
        #expect(lines.first?["trace.id"] as? String == "rid-file")
        try await node.stop()
    }

    @Test func theEventsSectionIsReadAndTyposAreRefused() throws {
        func load(_ section: String) throws -> NodeConfig {
            try ConfigLoader.load(yaml: "events:\n\(section)nodes:\n  - {id: n1}\n", nodeID: nil, environment: [:], baseDirectory: "/etc/gh")
        }
        let config = try load("  output: file\n  path: events.jsonl\n  ring_size: 500\n  window_ms: 30000\n  burst_threshold: 5\n")
        #expect(config.events.output == .file && config.events.path == "/etc/gh/events.jsonl")
        #expect(config.events.ringSize == 500 && config.events.windowMs == 30_000 && config.events.burstThreshold == 5)
        #expect(NodeConfig().events.output == .off && NodeConfig().events.ringSize == 10_000)
        #expect(try load("  output: stdout\n").events.output == .stdout)
        for bad in ["  output: syslog\n", "  output: file\n", "  ring_size: 0\n", "  window_ms: 5\n", "  burst_threshold: 0\n", "  ringsize: 5\n"] {
            #expect(throws: ConfigError.self, "\(bad)") { try load(bad) }
        }
    }

    @Test func everyEventTypeIsExportedAsAMetricFromTheStart() async throws {
        let node = try await Self.start()
        for type in SecurityEventType.allCases {
            #expect(try await node.metric("gatehouse_security_events_total{type=\"\(type.rawValue)\"}") == 0, "\(type.rawValue)")
        }
        try await node.stop()
    }
}
