import Foundation
import Testing

/// Waits until `condition` holds, checking every few milliseconds, and records an issue
/// naming `what` if it does not within `timeout`. For waiting on something a real node does
/// (a close, a metric), never a fixed sleep. Returns whether it held.
///
/// The deadline is generous on purpose: it only decides how long a failing test takes to
/// say so, and the whole suite on two cores has stalled single steps for over 10 s.
@discardableResult
func eventually(
    _ what: String, timeout: Duration = .seconds(30), sourceLocation: SourceLocation = #_sourceLocation,
    _ condition: () async throws -> Bool
) async throws -> Bool {
    if try await waitUntil(timeout: timeout, condition) { return true }
    Issue.record("not within \(timeout): \(what)", sourceLocation: sourceLocation)
    return false
}

/// `eventually` without the issue: for helpers that report a timeout in their own words
/// (a process that did not start, a reply that did not come). Never blocks its thread.
func waitUntil(timeout: Duration, _ condition: () async throws -> Bool) async throws -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try await Task.sleep(for: .milliseconds(10))
    }
    return try await condition()
}
