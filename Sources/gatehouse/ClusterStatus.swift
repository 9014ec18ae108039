import ArgumentParser
import Foundation

extension Cluster {
    /// `gatehouse cluster status`: one node's view of the cluster and its replica.
    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show a node's cluster status: members, keys, digest, anti-entropy.")
        @OptionGroup var connection: AdminConnection

        func run() async throws {
            let status = try await connection.call("GET", "/v1/cluster/status")
            guard !connection.json else { return }
            let states = (status["members_by_state"] as? [String: Any] ?? [:]).sorted { $0.key < $1.key }
                .map { "\($0.key) \($0.value)" }.joined(separator: ", ")
            let rows: [(String, String)] = [
                ("node", KeyTable.text(status["node_id"])), ("clustered", KeyTable.text(status["clustered"])),
                ("members", states.isEmpty ? "-" : states), ("keys", KeyTable.text(status["key_count"])),
                ("key digest", KeyTable.text(status["key_digest"])), ("counter windows", KeyTable.text(status["counter_windows"])),
                ("last anti-entropy", KeyTable.text(status["last_anti_entropy"])),
            ]
            for (name, value) in rows { print("\(name.padding(toLength: 18, withPad: " ", startingAt: 0)) \(value)") }
        }
    }
}
