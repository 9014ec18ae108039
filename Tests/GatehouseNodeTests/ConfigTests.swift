import Foundation
import GatehouseNode
import Testing

@Suite("Config")
struct ConfigTests {
    static let threeNodes = """
        cluster:
          name: test-cluster
        pepper: "0123456789abcdef0123456789abcdef-pepper"
        admin_token: "admin-token-0123456789"
        gateway_tokens: ["gateway-token-0123456789"]
        defaults:
          limits:
            - {name: minute, limit: 60, window_ms: 60000}
        failed_attempts: {limit: 10, window_ms: 30000}
        nodes:
          - {id: n1, rpc: "127.0.0.1:17379", http: "127.0.0.1:17380", data_dir: ./data/n1}
          - {id: n2, rpc: "127.0.0.1:17389", http: "127.0.0.1:17390", data_dir: /var/lib/gatehouse/n2}
        """

    @Test func picksTheNamedNodeAndResolvesItsSettings() throws {
        let config = try ConfigLoader.load(yaml: Self.threeNodes, nodeID: "n1", environment: [:], baseDirectory: "/etc/gh")
        #expect(config.nodeID == "n1")
        #expect(config.clusterName == "test-cluster")
        #expect(config.rpcAddress == HostPort(host: "127.0.0.1", port: 17379))
        #expect(config.dataDirectory == "/etc/gh/./data/n1")
        #expect(config.gatewayTokens == ["gateway-token-0123456789"])
        #expect(config.defaultLimits.map(\.name) == ["minute"])
        #expect(config.decision.failedAttemptLimit == 10)
        let second = try ConfigLoader.load(yaml: Self.threeNodes, nodeID: "n2", environment: [:], baseDirectory: "/etc/gh")
        #expect(second.dataDirectory == "/var/lib/gatehouse/n2")
    }

    @Test func theClockSkewBoundComesFromTimingWithAFiveSecondDefault() throws {
        let gossiping = Self.threeNodes.replacingOccurrences(
            of: "rpc: \"127.0.0.1:17379\",", with: "rpc: \"127.0.0.1:17379\", gossip: \"127.0.0.1:17946\",")
        let keyed = gossiping + "\ngossip_keys: [\"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\"]\n"
        let plain = try ConfigLoader.load(yaml: keyed, nodeID: "n1", environment: [:], baseDirectory: "/etc/gh")
        #expect(plain.cluster?.maxClockSkewMs == 5_000)
        let bounded = try ConfigLoader.load(
            yaml: keyed + "timing: {max_clock_skew_ms: 750}\n", nodeID: "n1", environment: [:], baseDirectory: "/etc/gh")
        #expect(bounded.cluster?.maxClockSkewMs == 750)
    }

    @Test func connectionCapsAndDeadlinesComeFromTheFile() throws {
        let yaml = """
            connections:
              max_unauthenticated: 50
              max_per_source: 20
              http_max: 300
              resp_idle_timeout_ms: 0
              http_idle_timeout_ms: 15000
              auth_timeout_ms: 2000
              frame_timeout_ms: 3000
              output_high_water_bytes: 32768
              output_limit_bytes: 1048576
              output_stall_timeout_ms: 5000
              max_auth_failures: 5
              event_loop_threads: 1
            nodes:
              - {id: n1}
            """
        let config = try ConfigLoader.load(yaml: yaml, nodeID: nil, environment: [:], baseDirectory: ".")
        var expected = ConnectionSettings()
        expected.maxUnauthenticated = 50
        expected.maxPerSource = 20
        expected.httpMaxConnections = 300
        expected.respIdleTimeoutMs = 0
        expected.httpIdleTimeoutMs = 15_000
        expected.authTimeoutMs = 2_000
        expected.frameTimeoutMs = 3_000
        expected.outputHighWaterBytes = 32 * 1024
        expected.outputLimitBytes = 1024 * 1024
        expected.outputStallTimeoutMs = 5_000
        expected.maxAuthFailures = 5
        expected.eventLoopThreads = 1
        #expect(config.connections == expected)
    }

    @Test func environmentSecretsWinOverTheFile() throws {
        let config = try ConfigLoader.load(
            yaml: Self.threeNodes, nodeID: "n1",
            environment: [
                "GATEHOUSE_ADMIN_TOKEN": "env-admin-token-0123456789",
                "GATEHOUSE_GATEWAY_TOKENS": "gw-one-0123456789abc, gw-two-0123456789abc",
                "GATEHOUSE_PEPPER": "env-pepper-env-pepper-env-pepper-0123",
            ],
            baseDirectory: ".")
        #expect(config.adminToken == "env-admin-token-0123456789")
        #expect(config.gatewayTokens == ["gw-one-0123456789abc", "gw-two-0123456789abc"])
        #expect(config.pepper == Array("env-pepper-env-pepper-env-pepper-0123".utf8))
    }

    @Test(arguments: [
        ("nodes:\n  - {id: n1, rpc: nowhere}\n", "nodes[0].rpc"),
        ("nodes:\n  - {id: n1, rpx: \"127.0.0.1:1\"}\n", "nodes[0].rpx"),
        ("limitz: {}\nnodes:\n  - {id: n1}\n", "limitz"),
        ("pepper: short\nnodes:\n  - {id: n1}\n", "pepper"),
        ("nodes: []\n", "nodes"),
        ("nodes:\n  - {id: n1}\n  - {id: n1}\n", "nodes[1].id"),
        ("log_level: loud\nnodes:\n  - {id: n1}\n", "log_level"),
        ("limits: {max_connections: many}\nnodes:\n  - {id: n1}\n", "limits.max_connections"),
        ("defaults:\n  limits:\n    - {name: h, limit: 0, window_ms: 1}\nnodes:\n  - {id: n1}\n", "defaults.limits"),
        ("nodes: [\n", "(file)"),
        ("connections: {output_limit_bytes: 1024}\nnodes:\n  - {id: n1}\n", "connections.output_limit_bytes"),
        ("connections: {idle_ms: 5}\nnodes:\n  - {id: n1}\n", "connections.idle_ms"),
        ("connections: {frame_timeout_ms: -1}\nnodes:\n  - {id: n1}\n", "connections.frame_timeout_ms"),
        ("connections: {event_loop_threads: 0}\nnodes:\n  - {id: n1}\n", "connections.event_loop_threads"),
    ])
    func badConfigsNameTheField(yaml: String, field: String) throws {
        do {
            _ = try ConfigLoader.load(yaml: yaml, nodeID: nil, environment: [:], baseDirectory: ".")
            Issue.record("expected a config error for \(field)")
        } catch {
            #expect(error.field == field)
            #expect(!error.fix.isEmpty)
            #expect(error.description.contains(field))
        }
    }

    @Test func aMultiNodeFileNeedsANodeChoice() {
        #expect(throws: ConfigError.self) {
            try ConfigLoader.load(yaml: Self.threeNodes, nodeID: nil, environment: [:], baseDirectory: ".")
        }
        #expect(throws: ConfigError.self) {
            try ConfigLoader.load(yaml: Self.threeNodes, nodeID: "n9", environment: [:], baseDirectory: ".")
        }
    }

    @Test func secretsAreGeneratedOnceWithOwnerOnlyPermissions() throws {
        var config = NodeConfig()
        config.dataDirectory = TemporaryDirectory.make() + "/data"
        let first = try NodeSecrets.resolve(for: config)
        let token = try #require(first.newlyGeneratedAdminToken)
        #expect(first.adminToken == token)
        #expect(first.pepper.count >= 32)
        let attributes = try FileManager.default.attributesOfItem(atPath: config.dataDirectory + "/secrets.json")
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
        let second = try NodeSecrets.resolve(for: config)
        #expect(second.newlyGeneratedAdminToken == nil)
        #expect(second.adminToken == token)
        #expect(second.pepper == first.pepper)
    }

    @Test func theRepositoryClusterFileLoads() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let path = root.appendingPathComponent("cluster.yaml").path
        let yaml = try String(contentsOfFile: path, encoding: .utf8)
        let config = try ConfigLoader.load(yaml: yaml, nodeID: "n1", environment: [:], baseDirectory: root.path)
        #expect(config.nodeID == "n1")
    }
}
