import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import GatehouseEnvoyProto
import GatehouseNode
import Testing

/// The Envoy gRPC services in process, through grpc-swift's client over loopback: the mapping
/// from Envoy's messages to the rules and back, and the listener's refusals.
@Suite("Envoy gRPC services in process")
struct EnvoyGRPCServiceTests {
    typealias RateLimitRequest = Envoy_Service_Ratelimit_V3_RateLimitRequest
    typealias Descriptor = Envoy_Extensions_Common_Ratelimit_V3_RateLimitDescriptor

    static let token = "grpc-gateway-token-0123456789"

    typealias Limiter = Envoy_Service_Ratelimit_V3_RateLimitService.Client<HTTP2ClientTransport.Posix>

    /// A node with a gRPC listener on a free port and the rules of EnvoyRateLimitDecisionTests.
    static func start(tokens: [String] = [], configure: (inout NodeConfig) -> Void = { _ in }) async throws -> TestNode {
        let rules = try EnvoyRateLimitRulesFile.parse(yaml: EnvoyRateLimitDecisionTests.rulesYAML, file: "rules.yaml")
        return try await TestNode.start { config in
            config.grpcAddress = HostPort(host: "127.0.0.1", port: 0)
            config.gatewayTokens = tokens
            config.envoy.rateLimitRules = rules
            config.envoy.rateLimitHeaders = true
            config.envoy.authorization = EnvoyAuthorizationSettings(routes: [.init(pathPrefix: "/orders", scopes: ["orders:read"])])
            configure(&config)
        }
    }

    /// A rate-limit client on its own connection to `node`.
    static func withLimiter(
        _ node: TestNode, security: HTTP2ClientTransport.Posix.TransportSecurity = .plaintext, _ body: (Limiter) async throws -> Void
    ) async throws {
        try await withClient(node, security: security) { client in try await body(Limiter(wrapping: client)) }
    }

    static func withClient<Result: Sendable>(
        _ node: TestNode, security: HTTP2ClientTransport.Posix.TransportSecurity = .plaintext,
        _ body: (GRPCClient<HTTP2ClientTransport.Posix>) async throws -> Result
    ) async throws -> Result {
        let port = try #require(node.endpoints.grpc?.port, "the node reported no gRPC listener")
        let transport = try HTTP2ClientTransport.Posix(target: .ipv4(address: "127.0.0.1", port: port), transportSecurity: security)
        return try await withGRPCClient(transport: transport, handleClient: body)
    }

    static func request(_ pairs: [(String, String)], hits: UInt32 = 0, domain: String = "edge") -> RateLimitRequest {
        var request = RateLimitRequest()
        request.domain = domain
        var descriptor = Descriptor()
        descriptor.entries = pairs.map { key, value in
            var entry = Descriptor.Entry()
            entry.key = key
            entry.value = value
            return entry
        }
        request.descriptors = [descriptor]
        request.hitsAddend = hits
        return request
    }

    @Test func shouldRateLimitMapsDescriptorsToSharedWindowsAndAnswersInEnvoysTerms() async throws {
        let node = try await Self.start()
        try await Self.withLimiter(node) { limiter in
            let login = Self.request([("path", "/login")])
            let first = try await limiter.shouldRateLimit(login)
            #expect(first.overallCode == .ok)
            #expect(first.statuses.count == 1)
            #expect(first.statuses[0].currentLimit.requestsPerUnit == 1 && first.statuses[0].currentLimit.unit == .second)
            #expect(first.statuses[0].limitRemaining == 0)
            #expect(first.statuses[0].durationUntilReset.seconds <= 1)
            #expect(first.responseHeadersToAdd.map(\.key) == ["x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset"])
            let second = try await limiter.shouldRateLimit(login)
            #expect(second.overallCode == .overLimit && second.statuses[0].code == .overLimit)
            // The same window THROTTLE uses: the node counts one bucket for it.
            #expect(node.server.service.throttleBucketCount == 1)
            let unknownDomain = try await limiter.shouldRateLimit(Self.request([("path", "/login")], domain: "nowhere"))
            #expect(unknownDomain.overallCode == .ok && !unknownDomain.statuses[0].hasCurrentLimit)
            await #expect(throws: RPCError.self) { try await limiter.shouldRateLimit(RateLimitRequest()) }
        }
        #expect(try await node.metric(#"gatehouse_grpc_requests_total{method="should_rate_limit",result="over_limit"}"#) == 1)
        #expect(try await node.metric(#"gatehouse_grpc_requests_total{method="should_rate_limit",result="invalid"}"#) == 1)
        try await node.stop()
    }

    @Test func checkAllowsAndDeniesWithTheStatusEnvoyGivesTheClient() async throws {
        let node = try await Self.start()
        let key = try await node.createKey([
            "owner": "acct_grpc", "scopes": ["orders:read"], "limits": [["name": "h", "limit": 1, "window_ms": 3_600_000]],
        ])
        try await Self.withClient(node) { client in
            let authorizer = Envoy_Service_Auth_V3_Authorization.Client(wrapping: client)
            func check(_ headers: [String: String], path: String = "/orders/1") async throws -> Envoy_Service_Auth_V3_CheckResponse {
                var request = Envoy_Service_Auth_V3_CheckRequest()
                request.attributes.request.http.headers = headers
                request.attributes.request.http.path = path
                return try await authorizer.check(request)
            }
            let allowed = try await check(["x-api-key": key.secret])
            #expect(allowed.status.code == 0)
            #expect(allowed.okResponse.headers.contains { $0.header.key == "x-gatehouse-key-id" && $0.header.value == key.id })
            #expect(allowed.okResponse.responseHeadersToAdd.contains { $0.header.key == "ratelimit-remaining" && $0.header.value == "0" })
            let limited = try await check(["authorization": "Bearer \(key.secret)"])
            #expect(limited.status.code != 0 && limited.deniedResponse.status.code == .tooManyRequests)
            #expect(limited.deniedResponse.headers.contains { $0.header.key == "retry-after" })
            let unknown = try await check(["x-api-key": "gk_" + String(repeating: "Z", count: 36)])
            #expect(unknown.deniedResponse.status.code == .unauthorized)
        }
        try await node.stop()
    }

    @Test func withGatewayTokensACallWithoutOneIsRefused() async throws {
        let node = try await Self.start(tokens: [Self.token])
        try await Self.withLimiter(node) { limiter in
            do {
                _ = try await limiter.shouldRateLimit(Self.request([("path", "/login")]))
                Issue.record("answered without a token")
            } catch let error as RPCError {
                #expect(error.code == .unauthenticated)
            }
            var metadata = Metadata()
            metadata.addString(Self.token, forKey: "x-gatehouse-token")
            let answered = try await limiter.shouldRateLimit(Self.request([("path", "/login")]), metadata: metadata)
            #expect(answered.overallCode == .ok)
        }
        #expect(try await node.metric(#"gatehouse_grpc_requests_total{method="should_rate_limit",result="unauthenticated"}"#) == 1)
        try await node.stop()
    }

    @Test func aConnectionPastTheCapIsRefusedAndCounted() async throws {
        let node = try await Self.start { config in
            config.connections.grpcMaxConnections = 1
        }
        try await Self.withLimiter(node) { limiter in
            #expect(try await limiter.shouldRateLimit(Self.request([("a", "b")])).overallCode == .ok)
            try await Self.withLimiter(node) { refused in
                await #expect(throws: RPCError.self) {
                    try await refused.shouldRateLimit(Self.request([("a", "b")]), options: Self.shortDeadline)
                }
            }
            // The first connection is unaffected.
            #expect(try await limiter.shouldRateLimit(Self.request([("a", "b")])).overallCode == .ok)
        }
        try await eventually("the refusal is counted", timeout: .seconds(60)) {
            try await node.metric(#"gatehouse_connections_closed_total{listener="grpc",reason="listener_limit"}"#) ?? 0 >= 1
        }
        try await node.stop()
    }

    @Test func anIdleConnectionIsClosed() async throws {
        let node = try await Self.start { config in
            config.connections.grpcIdleTimeoutMs = 1_000
        }
        try await Self.withLimiter(node) { limiter in
            // On a starved machine the connection can idle out before the first call goes
            // out; a call that gets through shows the listener served this client.
            try await eventually("a call is answered", timeout: .seconds(60)) {
                (try? await limiter.shouldRateLimit(Self.request([("a", "b")]), options: Self.shortDeadline))?.overallCode == .ok
            }
            // The client keeps its connection; only the node's idle timeout closes it.
            try await eventually("the idle connection is closed", timeout: .seconds(60)) {
                try await node.metric("gatehouse_grpc_connections_open") == 0
            }
        }
        try await node.stop()
    }

    @Test func aRequestOverTheSizeLimitIsRefusedAndTheNodeGoesOn() async throws {
        let node = try await Self.start()
        try await Self.withLimiter(node) { limiter in
            let huge = Self.request([("path", String(repeating: "x", count: 2 * EnvoyGRPCServerLimits.maxRequestBytes))])
            await #expect(throws: RPCError.self) { try await limiter.shouldRateLimit(huge) }
            let long = Self.request([("path", String(repeating: "y", count: 2_000))])
            await #expect(throws: RPCError.self) { try await limiter.shouldRateLimit(long) }
            let after = try await limiter.shouldRateLimit(Self.request([("path", "/login")]))
            #expect(after.overallCode == .ok)
        }
        try await node.stop()
    }

    @Test func theListenerSpeaksTLSFromTheNodesTLSSettingsAndReloadsIt() async throws {
        let pki = try await TestCertificates.make()
        let node = try await Self.start { config in
            config.tls = TLSSettings(certificateFile: pki.serverCertificateFile, privateKeyFile: pki.serverKeyFile)
        }
        let trusting = HTTP2ClientTransport.Posix.TransportSecurity.tls { tls in
            tls.trustRoots = .certificates([.file(path: pki.caFile, format: .pem)])
        }
        try await Self.withLimiter(node, security: trusting) { limiter in
            let answer = try await limiter.shouldRateLimit(Self.request([("a", "b")]))
            #expect(answer.overallCode == .ok)
        }
        // A renewed certificate reaches new gRPC connections on reload (SIGHUP), as on RESP and HTTP.
        let port = try #require(node.endpoints.grpc?.port)
        await #expect(try pki.servedSerial(port: port) == "1001")
        try await pki.renewServer(serial: "1002")
        _ = node.server.reloadTLS()
        await #expect(try pki.servedSerial(port: port) == "1002")
        try await Self.withLimiter(node) { limiter in
            await #expect(throws: RPCError.self) { try await limiter.shouldRateLimit(Self.request([("a", "b")]), options: Self.shortDeadline) }
        }
        try await node.stop()
    }

    /// Calls expected to fail on the connection fail fast instead of waiting for it.
    static var shortDeadline: CallOptions {
        var options = CallOptions.defaults
        options.timeout = .seconds(20)
        options.waitForReady = false
        return options
    }
}
