import Logging
import ServiceLifecycle

/// Writes replicated records to disk in batches, away from the data plane's loop: the key
/// service applies them in memory at once and rings; this writes whatever waits, in one
/// transaction, and once more at shutdown. A failed write keeps the records pending for the
/// next try, every `retryDelayMs` until one succeeds.
struct ReplicaPersistence: Service {
    let service: KeyService
    let metrics: ReplicationMetrics
    let logger: Logger
    var retryDelayMs: Int64 = 1_000

    func run() async throws {
        for await _ in service.pendingReplicaSignals.cancelOnGracefulShutdown() {
            while !persist() {
                do {
                    try await cancelWhenGracefulShutdown { try await Task.sleep(for: .milliseconds(retryDelayMs)) }
                } catch {
                    break
                }
            }
        }
        _ = persist()
    }

    /// Whether everything pending is on disk now.
    private func persist() -> Bool {
        do {
            try service.persistPendingReplicas()
            return true
        } catch {
            metrics.persistFailures.increment()
            logger.error("writing replicated records to disk failed; they stay in memory and pending", metadata: [
                "pending": "\(service.pendingReplicaCount)", "error": "\(error)",
            ])
            return false
        }
    }
}
