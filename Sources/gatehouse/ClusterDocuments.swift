import GatehouseNode

extension ClusterStatusView {
    /// `(field, value)` lines in a fixed order; states sorted by name.
    var fields: [(String, String)] {
        let states = membersByState.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
        return [
            ("node", nodeID), ("clustered", KeyTable.yesNo(clustered)), ("members", states.isEmpty ? "-" : states),
            ("keys", String(keyCount)), ("key digest", keyDigest), ("counter windows", String(counterWindows)),
            ("last anti-entropy", lastAntiEntropy.map(KeyTable.time) ?? "never"),
        ]
    }
}

/// `GET /v1/cluster/members` (`ClusterMembers` in `openapi.yaml`), typed for display.
struct ClusterMembersDocument: Decodable, Equatable {
    struct Member: Decodable, Equatable {
        var id: String
        var address: String
        var state: String
        var incarnation: Int64
        var lastChange: String?
    }

    static let columns = ["id", "address", "state", "incarnation", "last_change"]

    var nodeId: String
    var clustered: Bool
    var members: [Member]

    var rows: [[String]] {
        members.map { [$0.id, $0.address, $0.state, String($0.incarnation), $0.lastChange.map(KeyTable.time) ?? "-"] }
    }
}
