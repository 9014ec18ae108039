import Foundation

/// How often each key of the population is presented.
enum Popularity: Sendable, Hashable {
    /// Every key equally often.
    case uniform
    /// Key `i` (0-based) with weight `1 / (i + 1)^s`: a few hot keys, a long tail.
    case zipf(exponent: Double)

    var label: String {
        switch self {
        case .uniform: "uniform"
        case .zipf(let exponent): "zipf(\(exponent))"
        }
    }
}

/// Picks key indices by popularity: uniform draws directly, Zipf by binary search over a
/// precomputed cumulative table. Immutable and shared; each caller brings its generator.
struct KeyPicker: Sendable {
    let count: Int
    private let cumulative: [Double]

    init(count: Int, popularity: Popularity) {
        precondition(count > 0, "a population needs at least one key")
        self.count = count
        switch popularity {
        case .uniform:
            cumulative = []
        case .zipf(let exponent):
            var table: [Double] = []
            table.reserveCapacity(count)
            var sum = 0.0
            for rank in 1...count {
                sum += 1.0 / pow(Double(rank), exponent)
                table.append(sum)
            }
            cumulative = table.map { $0 / sum }
        }
    }

    @inline(__always)
    func pick(using generator: inout SplitMix64) -> Int {
        if cumulative.isEmpty { return Int(generator.next() % UInt64(count)) }
        let target = Double(generator.next() >> 11) / Double(1 << 53)
        var low = 0
        var high = cumulative.count - 1
        while low < high {
            let middle = (low + high) / 2
            if cumulative[middle] < target { low = middle + 1 } else { high = middle }
        }
        return low
    }
}
