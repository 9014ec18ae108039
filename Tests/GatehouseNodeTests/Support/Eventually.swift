import Foundation
import Testing

/// Waits until `condition` holds, checking every few milliseconds, and records an issue
/// naming `what` if it does not within `timeout`. For waiting on something a real node does
/// (a close, a metric), never a fixed sleep. Returns whether it held.
@discardableResult
func eventually(
    _ what: String, timeout: Duration = .seconds(10), sourceLocation: SourceLocation = #_sourceLocation,
    _ condition: () async throws -> Bool
) async throws -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try await Task.sleep(for: .milliseconds(10))
    }
    if try await condition() { return true }
    Issue.record("not within \(timeout): \(what)", sourceLocation: sourceLocation)
    return false
}
