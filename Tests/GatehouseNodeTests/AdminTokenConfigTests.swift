import Foundation
import GatehouseNode
import Testing

/// `admin_tokens:` and `audit:` in cluster.yaml: what is accepted, and what each mistake says.
@Suite("Admin token config")
struct AdminTokenConfigTests {
    static let base = """
        pepper: "0123456789abcdef0123456789abcdef-pepper"
        admin_token: "admin-token-0123456789"
        nodes:
          - {id: n1, rpc: "127.0.0.1:17379", http: "127.0.0.1:17380"}

        """
    static let hash = String(repeating: "ab", count: 32)

    static func load(_ extra: String, environment: [String: String] = [:]) throws(ConfigError) -> NodeConfig {
        try ConfigLoader.load(yaml: base + extra, nodeID: nil, environment: environment, baseDirectory: "/tmp")
    }

    static func error(_ extra: String, environment: [String: String] = [:]) -> ConfigError? {
        do {
            _ = try load(extra, environment: environment)
            return nil
        } catch {
            return error
        }
    }

    @Test func tokensComeByHashFromTheEnvironmentOrToBeGenerated() throws {
        let config = try Self.load("""
            admin_tokens:
              - {name: ci-deployer, sha256: "\(Self.hash)", permissions: [keys:read, keys:write]}
              - {name: support, secret_env: SUPPORT_TOKEN, permissions: [keys:revoke]}
              - {name: dashboards, permissions: [cluster:read]}
            audit: {retention_days: 30}
            """, environment: ["SUPPORT_TOKEN": "support-secret-0123456789"])
        #expect(config.adminTokens.map(\.name) == ["ci-deployer", "support", "dashboards"])
        #expect(config.adminTokens[0].secret == .sha256(AdminCredential.parseHex(Self.hash)!))
        #expect(config.adminTokens[0].permissions == [.keysRead, .keysWrite])
        #expect(config.adminTokens[1].secret == .environment(variable: "SUPPORT_TOKEN", hash: AdminCredential.sha256("support-secret-0123456789")))
        #expect(config.adminTokens[2].secret == .generated)
        #expect(config.auditRetentionDays == 30)
    }

    @Test func eachMistakeNamesItsField() {
        func field(_ extra: String, environment: [String: String] = [:]) -> String? { Self.error(extra, environment: environment)?.field }
        #expect(field("admin_tokens: [{name: a, sha256: \"xyz\", permissions: [keys:read]}]") == "admin_tokens[0].sha256")
        #expect(field("admin_tokens: [{name: a, secret_env: NOPE, permissions: [keys:read]}]") == "admin_tokens[0].secret_env")
        #expect(field("admin_tokens: [{name: a, secret_env: SHORT, permissions: [keys:read]}]", environment: ["SHORT": "abc"]) == "admin_tokens[0].secret_env")
        #expect(field("admin_tokens: [{name: a, sha256: \"\(Self.hash)\", secret_env: X, permissions: [keys:read]}]") == "admin_tokens[0]")
        #expect(field("admin_tokens: [{name: a, permissions: [keys:delete]}]") == "admin_tokens[0].permissions[0]")
        #expect(field("admin_tokens: [{name: a, permissions: []}]") == "admin_tokens[0].permissions")
        #expect(field("admin_tokens: [{name: Has Spaces, permissions: [keys:read]}]") == "admin_tokens[0].name")
        #expect(field("admin_tokens: [{name: admin, permissions: [keys:read]}]") == "admin_tokens[0].name")
        #expect(field("admin_tokens: [{name: a, permissions: [keys:read]}, {name: a, permissions: [keys:read]}]") == "admin_tokens[1].name")
        #expect(field("admin_tokens: [{name: a, secret: x, permissions: [keys:read]}]") == "admin_tokens[0].secret")
        #expect(field("audit: {retention_days: 0}") == "audit.retention_days")
        #expect(field("audit: {keep: 3}") == "audit.keep")
    }

    @Test func aSecretFromTheEnvironmentIsNeverInTheConfigOrItsErrors() throws {
        let secret = "support-secret-0123456789"
        let config = try Self.load(
            "admin_tokens: [{name: s, secret_env: S, permissions: [keys:read]}]", environment: ["S": secret])
        #expect(!"\(config.adminTokens)".contains(secret))
        let refused = Self.error("admin_tokens: [{name: s, secret_env: S, permissions: [nope]}]", environment: ["S": secret])
        #expect(refused != nil && !"\(refused!)".contains(secret))
    }
}
