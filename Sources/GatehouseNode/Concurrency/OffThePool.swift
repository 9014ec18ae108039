import Dispatch

/// Runs blocking work on a thread of its own and awaits its result, so that it does not hold
/// one of the cooperative pool's threads (one per core: two here) while it waits for a lock
/// or the disk. Two bulk imports at once would otherwise take the whole pool — one working,
/// one waiting for the writer's lock — and every other task of the node would wait with them.
///
/// Each call gets a new serial queue: on Linux the global concurrent queues
/// (`DispatchQueue.global()`) share their width-limited threads with the Swift concurrency
/// pool, so work blocked there starves it just the same (a CI run of the whole suite hung
/// that way); a serial queue runs on libdispatch's overcommitting threads, which are added
/// when others block.
enum OffThePool {
    static func run<Value: Sendable>(_ work: @escaping @Sendable () -> Value) async -> Value {
        await withCheckedContinuation { (continuation: CheckedContinuation<Value, Never>) in
            DispatchQueue(label: "gatehouse.off-the-pool").async {
                continuation.resume(returning: work())
            }
        }
    }
}
