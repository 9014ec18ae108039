import Foundation
import GatehouseNode
import Testing
import Yams

/// Docker cannot run here, so the deployment files are checked offline: the compose file
/// runs the same cluster as `cluster.yaml`, and its node config is a valid config.
@Suite("Deployment files")
struct DeploymentFilesTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static func read(_ path: String) throws -> String {
        try String(contentsOf: root.appendingPathComponent(path), encoding: .utf8)
    }

    @Test func composeRunsTheSameClusterAsClusterYAML() throws {
        let development = try Self.read("cluster.yaml")
        let composeConfig = try Self.read("deploy/compose-cluster.yaml")
        let environment = [
            "GATEHOUSE_PEPPER": "compose-check-pepper-0123456789abcdef",
            "GATEHOUSE_GOSSIP_KEYS": "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
            "GATEHOUSE_ADMIN_TOKEN": "compose-check-admin-token-0123",
        ]
        let ids = try ConfigLoader.nodeIDs(yaml: development)
        #expect(try ConfigLoader.nodeIDs(yaml: composeConfig) == ids)
        let compose = try #require(try Yams.load(yaml: try Self.read("docker-compose.yml")) as? [String: Any])
        let services = try #require(compose["services"] as? [String: Any])
        #expect(Set(services.keys) == Set(ids))
        for id in ids {
            let local = try ConfigLoader.load(yaml: development, nodeID: id, environment: environment, baseDirectory: "/tmp")
            let contained = try ConfigLoader.load(yaml: composeConfig, nodeID: id, environment: environment, baseDirectory: "/tmp")
            #expect(contained.clusterName == local.clusterName)
            #expect(contained.defaultLimits == local.defaultLimits)
            #expect(contained.cluster?.membership == local.cluster?.membership)
            #expect(contained.cluster?.gossipAddress.host == id)
            let service = try #require(services[id] as? [String: Any])
            let ports = service["ports"] as? [String] ?? []
            // Host ports are cluster.yaml's ports for that node.
            #expect(ports.contains("127.0.0.1:\(local.rpcAddress.port):7379"), "\(id) RESP port")
            #expect(ports.contains("127.0.0.1:\(local.httpAddress.port):7380"), "\(id) HTTP port")
            #expect(contained.grpcAddress?.port == 7381)
            #expect(ports.contains("127.0.0.1:\(local.grpcAddress?.port ?? 0):7381"), "\(id) gRPC port")
            let command = service["command"] as? [String] ?? []
            #expect(command.suffix(2) == ["--node", id])
            let volumes = service["volumes"] as? [String] ?? []
            #expect(volumes.contains { $0.hasPrefix("\(id)-data:") })
        }
    }
}
