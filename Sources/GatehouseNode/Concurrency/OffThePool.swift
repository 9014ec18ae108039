import Dispatch

/// Runs blocking work on a Dispatch thread and awaits its result, so that it does not hold
/// one of the cooperative pool's threads (one per core: two here) while it waits for a lock
/// or the disk. Two bulk imports at once would otherwise take the whole pool — one working,
/// one waiting for the writer's lock — and every other task of the node would wait with them.
enum OffThePool {
    static func run<Value: Sendable>(_ work: @escaping @Sendable () -> Value) async -> Value {
        await withCheckedContinuation { (continuation: CheckedContinuation<Value, Never>) in
            DispatchQueue.global(qos: .userInitiated).async {
                continuation.resume(returning: work())
            }
        }
    }
}
