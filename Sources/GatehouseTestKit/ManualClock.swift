import Synchronization

/// A wall clock that only moves when a test moves it. Shells take a `() -> Int64` for
/// "now in Unix milliseconds"; pass `clock.now` to make them deterministic.
public final class ManualClock: Sendable {
    private let millis: Mutex<Int64>

    public init(startMs: Int64 = 1_800_000_000_000) {
        millis = Mutex(startMs)
    }

    public var nowMs: Int64 { millis.withLock { $0 } }

    /// A closure reading this clock, in the shape shells accept.
    public var now: @Sendable () -> Int64 { { self.nowMs } }

    public func advance(byMs delta: Int64) {
        millis.withLock { $0 += delta }
    }

    public func set(toMs value: Int64) {
        millis.withLock { $0 = value }
    }
}
