import ArgumentParser
import Foundation

/// `gatehouse members`: the cluster as one node sees it.
struct Members: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List cluster members as a node sees them.")
    @OptionGroup var connection: AdminConnection

    func run() async throws {
        let view = try await connection.call("GET", "/v1/cluster/members", as: ClusterMembersDocument.self)
        guard !connection.json else { return }
        guard view.clustered else {
            print("node \(view.nodeId) runs standalone (no gossip address in its config)")
            return
        }
        print(KeyTable.render(view.rows, header: ClusterMembersDocument.columns))
    }
}
