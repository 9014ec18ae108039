import GatehouseCore
import GatehouseTestKit
import Testing

/// Credits spent through escrow: whatever the order, loss or duplication of the exchanges,
/// the cluster never spends more than the quota, and copies that have exchanged agree on
/// what remains.
@Suite("Credit escrow")
struct CreditEscrowTests {
    static let nodes = ["n1", "n2", "n3"]

    @Test(arguments: [0, 1, 2, 89, 90, 91, 1_000] as [Int64])
    func theInitialSharesAddUpToTheQuota(quota: Int64) {
        let escrow = CreditEscrow(quota: quota, holders: Self.nodes)
        #expect(Self.nodes.map(escrow.initialShare(of:)).reduce(0, +) == quota)
        #expect(escrow.initialShare(of: "n9") == 0)
    }

    /// The acceptance case: 90 credits, 270 verifies round-robin over three nodes that never
    /// exchange anything: exactly 90 admitted.
    @Test func roundRobinOverThreeNodesSpendsExactlyTheQuota() {
        var copies = Self.nodes.map { _ in CreditEscrow(quota: 90, holders: Self.nodes) }
        var admitted = 0
        for request in 0..<270 {
            let node = request % 3
            if copies[node].spend(1, by: Self.nodes[node]) { admitted += 1 }
        }
        #expect(admitted == 90)
    }

    /// Random spends, hand-overs on request and row exchanges that are lost, repeated and
    /// late, on four nodes: the spending never passes the quota; once every row has been
    /// delivered, every copy reports the same remaining credits, and that is the quota less
    /// what was spent.
    @Test(arguments: Array(1...30) as [UInt64])
    func spendingNeverPassesTheQuotaWhateverTheExchangesDo(seed: UInt64) {
        var random = SeededGenerator(seed: seed)
        let nodes = ["n1", "n2", "n3", "n4"]
        let quota = Int64.random(in: 0...200, using: &random)
        var copies = nodes.map { _ in CreditEscrow(quota: quota, holders: ["n1", "n2", "n3"]) }
        var inFlight: [(to: Int, from: Int, spent: Int64, given: [String: Int64])] = []
        var totalSpent: Int64 = 0
        for _ in 0..<600 {
            let node = Int.random(in: 0..<nodes.count, using: &random)
            switch Int.random(in: 0..<10, using: &random) {
            case 0..<5:
                let cost = Int64.random(in: 0...3, using: &random)
                if copies[node].spend(cost, by: nodes[node]) { totalSpent += cost }
            case 5, 6:
                // A node that runs low asks the peer it believes holds the most.
                let asker = nodes[node]
                if let giver = nodes.indices.filter({ $0 != node }).max(by: { copies[node].available(to: nodes[$0]) < copies[node].available(to: nodes[$1]) }) {
                    let amount = copies[giver].available(to: nodes[giver]) / 2
                    copies[giver].hand(amount, from: nodes[giver], to: asker)
                }
            default:
                let rows = copies[node].rows(of: nodes[node])
                for peer in nodes.indices where peer != node && Int.random(in: 0..<4, using: &random) != 0 {
                    inFlight.append((peer, node, rows.spent, rows.given))
                    if Bool.random(using: &random) { inFlight.append((peer, node, rows.spent, rows.given)) }
                }
            }
            inFlight.shuffle(using: &random)
            let deliver = inFlight.prefix(Int.random(in: 0...inFlight.count, using: &random))
            for message in deliver {
                copies[message.to].merge(rowsOf: nodes[message.from], spent: message.spent, given: message.given)
            }
            inFlight.removeFirst(deliver.count)
            #expect(totalSpent <= quota)
        }
        // Everyone sends its final rows to everyone, until nothing changes.
        for _ in 0..<nodes.count {
            for node in nodes.indices {
                let rows = copies[node].rows(of: nodes[node])
                for peer in nodes.indices where peer != node {
                    copies[peer].merge(rowsOf: nodes[node], spent: rows.spent, given: rows.given)
                }
            }
        }
        #expect(Set(copies.map(\.remaining)) == [quota - totalSpent])
        #expect(nodes.map { copies[0].held(by: $0) }.reduce(0, +) == quota)
    }

    @Test func rowsOnlyGrowAndNegativeValuesAreRefused() {
        var copy = CreditEscrow(quota: 90, holders: Self.nodes)
        let negative = copy.merge(rowsOf: "n2", spent: -5, given: ["n1": -1])
        #expect(!negative)
        #expect(copy.available(to: "n1") == 30)
        copy.merge(rowsOf: "n2", spent: 10, given: ["n1": 20])
        copy.merge(rowsOf: "n2", spent: 4, given: ["n1": 5])
        #expect(copy.available(to: "n1") == 50)
        #expect(copy.remaining == 80)
    }
}
