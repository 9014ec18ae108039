import ArgumentParser
import Foundation
import GatehouseNode

extension Cluster {
    /// `gatehouse cluster status`: one node's view of the cluster and its replica.
    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show a node's cluster status: members, keys, digest, anti-entropy.")
        @OptionGroup var connection: AdminConnection

        func run() async throws {
            let status = try await connection.call("GET", "/v1/cluster/status", as: ClusterStatusView.self, decoder: JSONDecoder())
            guard !connection.json else { return }
            print(KeyTable.renderFields(status.fields, width: 18))
        }
    }
}
