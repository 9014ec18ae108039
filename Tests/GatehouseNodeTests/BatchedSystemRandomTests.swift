@testable import GatehouseNode
import Testing

/// The import's generator reads the system CSPRNG in batches; what it hands out must still
/// look like fresh randomness across refills and between generators.
@Suite struct BatchedSystemRandomTests {
    @Test func valuesAcrossRefillsAreDistinctAndUseEveryBit() {
        var random = BatchedSystemRandom(capacity: 4)
        let values = (0..<1_000).map { _ in random.next() }
        #expect(Set(values).count == values.count, "64-bit values from a CSPRNG do not repeat in a thousand draws")
        let ored = values.reduce(0, |)
        let anded = values.reduce(UInt64.max, &)
        #expect(ored == .max && anded == 0, "every bit is sometimes set and sometimes clear")
    }

    @Test func twoGeneratorsDoNotShareAStream() {
        var first = BatchedSystemRandom()
        var second = BatchedSystemRandom()
        let a = (0..<16).map { _ in first.next() }
        let b = (0..<16).map { _ in second.next() }
        #expect(Set(a).isDisjoint(with: b))
    }
}
