import ArgumentParser
import Foundation

/// `gatehouse members`: the cluster as one node sees it.
struct Members: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List cluster members as a node sees them.")
    @OptionGroup var connection: AdminConnection

    func run() async throws {
        let view = try await connection.call("GET", "/v1/cluster/members")
        guard !connection.json else { return }
        guard view["clustered"] as? Bool == true else {
            print("node \(view["node_id"] as? String ?? "?") runs standalone (no gossip address in its config)")
            return
        }
        let rows = (view["members"] as? [[String: Any]] ?? []).map { member in
            ["id", "address", "state", "incarnation", "last_change"].map { KeyTable.text(member[$0]) }
        }
        print(KeyTable.render(rows, header: ["id", "address", "state", "incarnation", "last_change"]))
    }
}
