import Foundation

/// Runs `work` on a thread of its own and waits for its result without holding one of the
/// threads of Swift's cooperative pool. A long synchronous simulation (a minute for 500
/// members in a debug build) on that pool — two threads on a two-core machine — starves
/// every async test running beside it: nodes started in the test process then cannot even
/// shut down in time.
public func onOwnThread<Value: Sendable>(_ work: @escaping @Sendable () -> Value) async -> Value {
    await withCheckedContinuation { continuation in
        Thread.detachNewThread { continuation.resume(returning: work()) }
    }
}
