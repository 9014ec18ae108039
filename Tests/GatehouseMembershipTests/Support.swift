import GatehouseMembership

/// Helpers to drive one instance by hand.
extension MembershipInstance {
    static func make(_ name: String, seed: UInt64 = 1, settings: MembershipSettings = MembershipSettings()) -> MembershipInstance {
        MembershipInstance(id: NodeID(name), address: address(name), settings: settings, seed: seed)
    }

    static func address(_ name: String) -> MemberAddress {
        MemberAddress(host: "10.0.0.\(abs(name.hashValue % 200) + 1)-\(name)", port: 7946)
    }

    /// Makes the named members known and alive at incarnation 0.
    mutating func know(_ names: [String], nowMs: Int64 = 0) {
        _ = onPushPull(names.map { Member(id: NodeID($0), address: Self.address($0), status: .alive, incarnation: 0, lastChangeMs: 0) }, nowMs: nowMs)
    }
}

extension Array where Element == MembershipDirective {
    var sends: [(message: MembershipMessage, to: MemberAddress)] {
        compactMap { if case .send(let message, let to) = $0 { (message, to) } else { nil } }
    }

    var timers: [(timer: MembershipTimer, afterMs: Int64)] {
        compactMap { if case .schedule(let timer, let after) = $0 { (timer, after) } else { nil } }
    }

    var changes: [(member: Member, previous: MemberStatus?)] {
        compactMap { if case .memberChanged(let member, let previous) = $0 { (member, previous) } else { nil } }
    }
}

extension MembershipMessage {
    var pingSequence: UInt32? {
        if case .ping(let sequence, _, _, _, _) = self { return sequence }
        return nil
    }

    var isPingRequest: Bool {
        if case .pingRequest = self { return true }
        return false
    }
}
