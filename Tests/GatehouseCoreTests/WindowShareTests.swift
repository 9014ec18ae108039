import GatehouseCore
import GatehouseTestKit
import Testing

/// A limit's shares in escrow (`WindowShare` over `EscrowHoldings`): the holdings always add
/// up to the limit, a node admits only up to its share (plus the default mode's slack), and it
/// hands over only what it does not use.
@Suite("Window shares")
struct WindowShareTests {
    static let nodes = ["n1", "n2", "n3"]

    @Test func aStrictShareAdmitsExactlyWhatItHolds() {
        let share = WindowShare(limit: 250, holders: Self.nodes, strict: true)
        #expect(share.holdings.held(by: "n1") == 84)
        #expect(share.holdings.held(by: "n3") == 83)
        #expect(share.admits(1, ownUsage: 83, node: "n1"))
        #expect(!share.admits(1, ownUsage: 84, node: "n1"))
        #expect(!share.admits(1, ownUsage: 0, node: "n9"))
    }

    @Test func theDefaultModeAddsTwoPerCentOfTheLimitOverAllMembers() {
        let share = WindowShare(limit: 300, holders: Self.nodes, strict: false)
        #expect(share.ceiling(of: "n1") == 102)
        #expect(share.admits(2, ownUsage: 100, node: "n1"))
        #expect(!share.admits(3, ownUsage: 100, node: "n1"))
        // A small limit: one request per member, not a fraction of one.
        let small = WindowShare(limit: 2, holders: Self.nodes, strict: false)
        #expect(small.ceiling(of: "n1") == 2)
        #expect(small.ceiling(of: "n3") == 1)
    }

    @Test func aNodeAsksOnlyOnceItNearsWhatItHolds() {
        let share = WindowShare(limit: 300, holders: Self.nodes, strict: true)
        #expect(share.want(ownUsage: 70, cost: 1, node: "n1") == nil)
        #expect(share.want(ownUsage: 75, cost: 1, node: "n1") == 100)
        // A node that holds the whole limit has nothing to ask for.
        let alone = WindowShare(limit: 300, holders: ["n1"], strict: true)
        #expect(alone.want(ownUsage: 299, cost: 1, node: "n1") == nil)
    }

    @Test func aHandOverGivesHalfOfWhatIsNotUsedAndNeverWhatIs() {
        var share = WindowShare(limit: 300, holders: Self.nodes, strict: true)
        #expect(share.handOver(upTo: 1_000, from: "n2", to: "n1", ownUsage: 40) == 30)
        #expect(share.holdings.held(by: "n2") == 70)
        #expect(share.holdings.held(by: "n1") == 130)
        #expect(share.handOver(upTo: 1_000, from: "n2", to: "n1", ownUsage: 70) == 0)
        #expect(share.handOver(upTo: 1_000, from: "n2", to: "n2", ownUsage: 0) == 0)
        // A node short itself (at the point where it would ask) keeps what it has.
        #expect(share.handOver(upTo: 1_000, from: "n3", to: "n1", ownUsage: 76) == 0)
        #expect(share.handOver(upTo: 1_000, from: "n3", to: "n1", ownUsage: 74) == 13)
    }

    /// Closed holdings (the default mode) over the live members: a member that leaves takes
    /// nothing with it, and what the others hold still adds up to the limit.
    @Test func whenAMemberLeavesTheOthersSplitTheLimitAgain() {
        var share = WindowShare(limit: 300, holders: Self.nodes, strict: false)
        share.handOver(upTo: 50, from: "n1", to: "n2", ownUsage: 0)
        share.handOver(upTo: 20, from: "n3", to: "n1", ownUsage: 0)
        #expect(Self.nodes.map(share.holdings.held(by:)).reduce(0, +) == 300)
        let rebased = share.rebased(holders: ["n1", "n2"])
        #expect(rebased.holdings.held(by: "n1") + rebased.holdings.held(by: "n2") == 300)
        #expect(rebased.holdings.held(by: "n2") == 200)
        #expect(rebased.holdings.held(by: "n3") == 0)
    }

    /// A peer's row naming ever new recipients cannot grow the copy past the holder cap.
    @Test func aRowCannotNameMoreRecipientsThanTheCap() {
        var holdings = EscrowHoldings(quota: 300, holders: Self.nodes)
        let row = Dictionary(uniqueKeysWithValues: (0..<(KeyRules.maxHolders + 50)).map { ("fake-\($0)", Int64(1)) })
        holdings.merge(rowOf: "n2", row)
        #expect(holdings.row(of: "n2").count == KeyRules.maxHolders)
    }

    /// Random admissions, hand-overs on request and row exchanges that are lost, repeated and
    /// late: at every step the nodes' own counts together stay within the limit (strict) —
    /// usage that only grows, the worst case for a sliding window.
    @Test(arguments: Array(1...20) as [UInt64])
    func ownCountsTogetherNeverPassTheLimit(seed: UInt64) {
        var random = SeededGenerator(seed: seed)
        let limit = Int64.random(in: 1...400, using: &random)
        var copies = Self.nodes.map { _ in WindowShare(limit: limit, holders: Self.nodes, strict: true) }
        var usage = [Double](repeating: 0, count: 3)
        var inFlight: [(to: Int, from: Int, row: [String: Int64])] = []
        for _ in 0..<800 {
            let node = Int.random(in: 0..<3, using: &random)
            switch Int.random(in: 0..<10, using: &random) {
            case 0..<5:
                let cost = Int64.random(in: 1...3, using: &random)
                if copies[node].admits(cost, ownUsage: usage[node], node: Self.nodes[node]) { usage[node] += Double(cost) }
            case 5, 6:
                let giver = (node + Int.random(in: 1...2, using: &random)) % 3
                copies[giver].handOver(upTo: limit, from: Self.nodes[giver], to: Self.nodes[node], ownUsage: usage[giver])
                let row = copies[giver].holdings.row(of: Self.nodes[giver])
                for peer in 0..<3 where peer != giver && Int.random(in: 0..<3, using: &random) != 0 {
                    inFlight.append((peer, giver, row))
                }
            default:
                inFlight.shuffle(using: &random)
                let deliver = inFlight.prefix(Int.random(in: 0...inFlight.count, using: &random))
                for message in deliver { copies[message.to].merge(rowOf: Self.nodes[message.from], message.row) }
                inFlight.removeFirst(deliver.count)
            }
            #expect(usage.reduce(0, +) <= Double(limit))
        }
    }
}
