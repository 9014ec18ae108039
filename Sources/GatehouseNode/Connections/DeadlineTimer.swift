import NIOCore

/// The one timer a connection handler keeps for its state machine's next deadline, on the
/// channel's event loop and its clock (`EventLoop.now`, which `EmbeddedEventLoop` fakes).
///
/// Deadlines that move later (activity) leave the timer where it is: it fires early, the
/// machine finds nothing expired, and the handler arms it again. So a busy connection costs
/// no timer work per read.
struct DeadlineTimer {
    private var scheduled: Scheduled<Void>?
    private var armedAt: Int64?

    /// The event loop's clock in nanoseconds, the time the machines are given.
    static func now(_ loop: any EventLoop) -> Int64 {
        Int64(truncatingIfNeeded: loop.now.uptimeNanoseconds)
    }

    /// Arms the timer at `deadline` unless it is armed at or before it already; `nil`
    /// cancels it. `fire` runs on the event loop and must call `fired()` first.
    mutating func arm(at deadline: Int64?, on loop: any EventLoop, _ fire: @escaping () -> Void) {
        guard let deadline else {
            cancel()
            return
        }
        if let armedAt, armedAt <= deadline { return }
        cancel()
        armedAt = deadline
        scheduled = loop.assumeIsolated().scheduleTask(deadline: .uptimeNanoseconds(UInt64(max(0, deadline))), fire)
    }

    /// Forgets the timer that just fired.
    mutating func fired() {
        scheduled = nil
        armedAt = nil
    }

    mutating func cancel() {
        scheduled?.cancel()
        fired()
    }
}
