import Foundation

/// Lifeguard's dynamic suspicion: a suspicion starts at its maximum timeout and shrinks
/// towards the minimum as independent members confirm it (log-scaled), so a really dead
/// member is declared quickly while a lone, possibly mistaken, suspector waits long.
struct Suspicion: Hashable, Sendable {
    var incarnation: UInt64
    var startMs: Int64
    var minimumMs: Int64
    var maximumMs: Int64
    /// Confirmations needed to reach the minimum.
    var expectedConfirmations: Int
    /// Distinct suspectors; the first one does not count as a confirmation.
    var suspectors: Set<NodeID>

    init(incarnation: UInt64, startMs: Int64, bounds: (minimum: Int64, maximum: Int64), expectedConfirmations: Int, firstSuspector: NodeID) {
        self.incarnation = incarnation
        self.startMs = startMs
        minimumMs = bounds.minimum
        maximumMs = bounds.maximum
        self.expectedConfirmations = expectedConfirmations
        suspectors = [firstSuspector]
    }

    var confirmations: Int { suspectors.count - 1 }

    /// Adds a suspector; `true` if it is a new, independent one.
    mutating func confirm(by suspector: NodeID) -> Bool {
        suspectors.insert(suspector).inserted
    }

    /// `max(min, max − (max − min) · log(C + 1) / log(K + 1))`.
    static func timeout(minimumMs: Int64, maximumMs: Int64, confirmations: Int, expected: Int) -> Int64 {
        guard expected >= 1 else { return minimumMs }
        let fraction = log(Double(confirmations + 1)) / log(Double(expected + 1))
        let value = Double(maximumMs) - Double(maximumMs - minimumMs) * fraction
        return max(minimumMs, Int64(value.rounded(.down)))
    }

    var deadlineMs: Int64 {
        startMs + Self.timeout(minimumMs: minimumMs, maximumMs: maximumMs, confirmations: confirmations, expected: expectedConfirmations)
    }
}
