import Foundation
import Testing

/// Envoy's own generated messages (PyPI xds-protos) over Python grpcio, a client nobody here
/// wrote, against three real `gatehouse serve` processes sharing their counters.
@Suite("Envoy gRPC with Python grpcio and xds-protos", .timeLimit(.minutes(6)))
struct EnvoyGRPCClientTests {
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("clients/envoy_grpc_check.py").path
    static let gatewayToken = "envoy-gateway-token-0123456789"
    /// The rules Tests/clients/envoy_grpc_check.py expects.
    static let rules = """
        domain: edge
        descriptors:
          - key: remote_address
            rate_limit: {unit: minute, requests_per_unit: 3}
          - key: path
            value: /static/*
            unlimited: true
          - key: tenant
            descriptors:
              - key: plan
                value: free
                shadow_mode: true
                rate_limit: {unit: minute, requests_per_unit: 2}
          - key: user
            rate_limit: {unit: minute, requests_per_unit: 10}
          - key: shared
            rate_limit: {unit: minute, requests_per_unit: 30}
        """

    /// python3 with grpcio and xds-protos importable (scripts/test installs them with pip).
    static let python: String? = {
        guard let python = Subprocess.locate("python3"),
            let probe = try? Subprocess.runBlocking(python, ["-c", "import grpc, envoy.service.ratelimit.v3.rls_pb2"]), probe.status == 0
        else { return nil }
        return python
    }()

    @Test func shouldRateLimitAndCheckFromPythonGrpcioOverThreeNodes() async throws {
        let python = try #require(Self.python, "python3 with grpcio and xds-protos is missing: pip install grpcio xds-protos (scripts/test does)")
        let executable = try #require(Subprocess.gatehouseExecutable(), "the gatehouse executable is not built")
        let cluster = try ClusterProcesses(
            executable: executable, count: 3,
            extraYAML: """
                gateway_tokens: ["\(Self.gatewayToken)"]
                envoy:
                  rate_limit_rules: ratelimit.yaml
                  rate_limit_headers: true
                """)
        defer { cluster.stopAll() }
        try Self.rules.write(toFile: "\(cluster.directory)/ratelimit.yaml", atomically: true, encoding: .utf8)
        for node in cluster.nodes { try await cluster.start(node.id) }
        for node in cluster.nodes {
            try await eventually("\(node.id) serves gRPC", timeout: .seconds(60)) { FreePort.isListening(port: node.grpc, host: node.host) }
        }
        let alive = try await cluster.waitUntil(seconds: 90, observers: cluster.nodes.map(\.id)) { view in
            view.count == 3 && view.values.allSatisfy { $0.state == "alive" }
        }
        #expect(alive, "the three nodes did not see each other alive")

        let admin = cluster.httpBase("n1") + "/v1/keys"
        let body: [String: Any] = [
            "owner": "acct_envoy", "scopes": ["read"], "meta": ["tier": "gold"],
            "limits": [["name": "hour", "limit": 2, "window_ms": 3_600_000]],
        ]
        let key = try #require(try await HTTP.json("POST", admin, token: cluster.adminToken, body: body)["key"] as? String)
        let checkKey = try #require(try await HTTP.json("POST", admin, token: cluster.adminToken, body: body)["key"] as? String)
        let config: [String: Any] = [
            "grpc": cluster.nodes.map { "\($0.host):\($0.grpc)" }, "token": Self.gatewayToken, "key": key, "check_key": checkKey,
            "unknown_key": "gk_" + String(repeating: "Z", count: 36),
        ]
        let configFile = "\(cluster.directory)/client.json"
        try JSONSerialization.data(withJSONObject: config).write(to: URL(fileURLWithPath: configFile))

        let run = try await Subprocess.run(python, [Self.script, configFile], timeout: 300)
        #expect(run.status == 0, "\(run.output)\n\(run.error)")
        for check in [
            "unauthenticated without the gateway token", "OK until the limit, then OVER_LIMIT", "x-ratelimit headers", "shadow mode", "unlimited",
            "hits_addend", "a key's own limits via its descriptor", "invalid argument", "3 nodes share one limit", "Check OK", "Check DENIED 401",
            "Check DENIED 403", "Check DENIED 429",
        ] {
            #expect(run.output.contains("ok: \(check)"), "missing: \(check)\n\(run.output)")
        }
    }
}
