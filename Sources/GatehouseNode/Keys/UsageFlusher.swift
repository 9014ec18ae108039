import Logging
import ServiceLifecycle

/// Writes coalesced usage (`last_used_at`, credits) to disk on a timer and once more at
/// shutdown, and drops ended throttle windows.
struct UsageFlusher: Service {
    let service: KeyService
    let intervalMs: Int64
    let metrics: NodeMetrics
    let logger: Logger

    func run() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            do {
                try await cancelWhenGracefulShutdown {
                    try await Task.sleep(for: .milliseconds(intervalMs))
                }
            } catch {
                break
            }
            flush()
        }
        flush()
    }

    private func flush() {
        service.audit.pruneIfDue()
        do {
            try service.flushUsage()
        } catch {
            metrics.usageFlushFailures.increment()
            logger.error("writing key usage failed", metadata: ["error": "\(error)"])
        }
    }
}
