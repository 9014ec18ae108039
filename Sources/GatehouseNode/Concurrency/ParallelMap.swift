import Foundation

/// `map` over all cores for work measured in thousands of items (an import's lines and
/// secrets): the items are cut into one contiguous range per core, each mapped on its own
/// thread, and the results put back in order. Small inputs are mapped on the calling thread.
///
/// The caller's thread waits (`DispatchQueue.concurrentPerform`): for the short, CPU-bound
/// steps of a bulk write that already holds its caller until the disk has the keys.
enum ParallelMap {
    static func map<Item, Result>(
        _ items: [Item], minimumPerThread: Int = 512, _ transform: @Sendable (Item) -> Result
    ) -> [Result] where Item: Sendable, Result: Sendable {
        let threads = min(ProcessInfo.processInfo.activeProcessorCount, items.count / max(1, minimumPerThread))
        guard threads > 1 else { return items.map(transform) }
        let share = (items.count + threads - 1) / threads
        let parts = LockedBox([[Result]?](repeating: nil, count: threads))
        DispatchQueue.concurrentPerform(iterations: threads) { thread in
            let range = min(items.count, thread * share)..<min(items.count, (thread + 1) * share)
            let part = items[range].map(transform)
            parts.withLock { $0[thread] = part }
        }
        return parts.withLock { $0 }.flatMap { $0! }
    }
}
