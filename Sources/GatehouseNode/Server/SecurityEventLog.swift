import Foundation
import GatehouseCore
import Logging
import ServiceLifecycle
import Synchronization

/// The node's security events: the pure `SecurityEventDetector` and `SecurityEventRing`
/// behind one lock, the `gatehouse_security_events_total` counter, the JSON-line output
/// (`events.output`) and the waiters of `GET /v1/events`.
///
/// Callers on the verify path call `verified` only for refused verifies: a valid one never
/// takes this lock. Lines are written by `run` off the caller's thread (an event loop must not
/// wait for a disk), from a buffer of at most `ring_size` lines.
public final class SecurityEventLog: Sendable {
    public typealias Origin = SecurityEventDetector.Origin

    public let settings: EventSettings
    private let metrics: NodeMetrics?
    private let now: @Sendable () -> Int64
    private let logger: Logger
    private let lines: AsyncStream<String>
    private let lineSink: AsyncStream<String>.Continuation?

    private struct State: ~Copyable {
        var detector: SecurityEventDetector
        var ring: SecurityEventRing
        var waiters: [UInt64: CheckedContinuation<Void, Never>] = [:]
        /// Waiters whose time ran out before they were registered.
        var expired: Set<UInt64> = []
        var nextWaiter: UInt64 = 0
        /// Set when the node shuts down: waits end at once, so open long polls and event
        /// streams do not hold up the HTTP server's graceful shutdown.
        var closed = false
    }

    private let state: Mutex<State>

    public init(
        node: String, settings: EventSettings = EventSettings(), metrics: NodeMetrics? = nil, logger: Logger = Logger(label: "gatehouse.events"),
        now: @escaping @Sendable () -> Int64 = WallClock.nowMs
    ) {
        self.settings = settings
        self.metrics = metrics
        self.now = now
        self.logger = logger
        state = Mutex(State(detector: SecurityEventDetector(node: node, settings: settings.detector), ring: SecurityEventRing(capacity: settings.ringSize)))
        let (stream, continuation) = AsyncStream.makeStream(of: String.self, bufferingPolicy: .bufferingNewest(settings.ringSize))
        lines = stream
        lineSink = settings.output == .off ? nil : continuation
    }

    // MARK: What the node saw

    /// A verify's outcome, at `nowMs` when the caller read the clock already. Valid answers
    /// return at once; refusals may make an event.
    @inline(__always)
    public func verified(_ code: VerifyCode, keyID: String?, source: SourceIdentity?, nowMs: Int64? = nil, origin: () -> Origin) {
        guard code != .valid else { return }
        let nowMs = nowMs ?? now()
        let event = state.withLock { $0.detector.verified(code, keyID: keyID, source: source, nowMs: nowMs, origin: origin) }
        if let event { emit([event]) }
    }

    /// A request refused because its source is throttled (a token check that was not made).
    public func sourceThrottled(_ source: SourceIdentity?, origin: () -> Origin) {
        guard let source else { return }
        let nowMs = now()
        if let event = state.withLock({ $0.detector.sourceThrottled(source, nowMs: nowMs, origin: origin) }) { emit([event]) }
    }

    /// A refused admin (`adminAuthFailed`) or gateway (`gatewayAuthFailed`) token.
    public func credentialRefused(_ type: SecurityEventType, origin: Origin) {
        let nowMs = now()
        emit([state.withLock { $0.detector.credentialRefused(type, nowMs: nowMs, origin: origin) }])
    }

    /// Gossip from `address` that did not authenticate.
    public func gossipAuthFailed(from address: String) {
        let nowMs = now()
        if let event = state.withLock({ $0.detector.gossipAuthFailed(from: address, nowMs: nowMs) }) { emit([event]) }
    }

    /// Replicated records from `member` refused for a version too far ahead.
    public func clockSkewRejected(member: String, firstKeyID: String?, count: Int64, aheadMs: Int64) {
        let nowMs = now()
        emit([state.withLock { $0.detector.clockSkewRejected(member: member, firstKeyID: firstKeyID, count: count, aheadMs: aheadMs, nowMs: nowMs) }])
    }

    /// A member now suspected or dead.
    public func memberChanged(_ member: String, address: String?, dead: Bool) {
        let nowMs = now()
        emit([state.withLock { $0.detector.memberChanged(member, address: address, dead: dead, nowMs: nowMs) }])
    }

    /// Ends aggregation windows and notices released sources; `run` calls it every 250 ms.
    public func tick(isThrottled: (SourceIdentity) -> Bool) {
        let nowMs = now()
        let events = state.withLock { $0.detector.tick(nowMs: nowMs, isThrottled: isThrottled) }
        if !events.isEmpty { emit(events) }
    }

    private func emit(_ events: [SecurityEvent]) {
        let (numbered, woken) = state.withLock { state -> ([SecurityEvent], [CheckedContinuation<Void, Never>]) in
            let numbered = events.map { state.ring.append($0) }
            let woken = Array(state.waiters.values)
            state.waiters = [:]
            return (numbered, woken)
        }
        for event in numbered {
            metrics?.countSecurityEvent(event.type)
            lineSink?.yield(SecurityEventJSON.line(event))
        }
        for waiter in woken { waiter.resume() }
    }

    // MARK: Reading

    /// Up to `limit` events after `cursor` (see `SecurityEventRing.events(after:limit:)`).
    public func events(after cursor: UInt64, limit: Int) -> SecurityEventRing.Page {
        state.withLock { $0.ring.events(after: cursor, limit: limit) }
    }

    /// Returns once an event after `cursor` is held, after `timeout`, or when the task is cancelled.
    public func waitForEvents(after cursor: UInt64, timeout: Duration) async {
        let id: UInt64? = state.withLock { state in
            guard !state.closed, !state.ring.hasEvents(after: cursor) else { return nil }
            state.nextWaiter += 1
            return state.nextWaiter
        }
        guard let id, timeout > .zero else { return }
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                await withCheckedContinuation { continuation in
                    let now = self.state.withLock { state -> Bool in
                        if state.closed || state.expired.remove(id) != nil || state.ring.hasEvents(after: cursor) { return true }
                        state.waiters[id] = continuation
                        return false
                    }
                    if now { continuation.resume() }
                }
            }
            group.addTask {
                try? await Task.sleep(for: timeout)
                self.expire(id)
            }
            await group.next()
            group.cancelAll()
        }
        // Both children are done: a mark the timer left after an event woke the waiter goes.
        _ = state.withLock { $0.expired.remove(id) }
    }

    /// Long polls and event streams waiting now.
    public var waiterCount: Int { state.withLock { $0.waiters.count } }

    /// Whether the node is shutting down (see `State.closed`).
    public var isClosed: Bool { state.withLock { $0.closed } }

    /// Ends every wait, now and later.
    func close() {
        let woken = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.closed = true
            defer { state.waiters = [:] }
            return Array(state.waiters.values)
        }
        for waiter in woken { waiter.resume() }
    }

    private func expire(_ id: UInt64) {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            if let waiter = state.waiters.removeValue(forKey: id) { return waiter }
            state.expired.insert(id)
            return nil
        }
        waiter?.resume()
    }

    // MARK: Running

    /// Writes the lines and ticks until the node shuts down.
    func run(isThrottled: @escaping @Sendable (SourceIdentity) -> Bool) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.writeLines() }
            group.addTask {
                while !Task.isCancelled {
                    do { try await Task.sleep(for: .milliseconds(250)) } catch { break }
                    self.tick(isThrottled: isThrottled)
                }
                self.tick(isThrottled: isThrottled)
                self.close()
                self.lineSink?.finish()
            }
            await group.waitForAll()
        }
    }

    private func writeLines() async {
        guard lineSink != nil else { return }
        let handle: FileHandle
        switch settings.output {
        case .off:
            return
        case .stdout:
            handle = .standardOutput
        case .file:
            let path = settings.path ?? "events.jsonl"
            if !FileManager.default.fileExists(atPath: path) {
                _ = FileManager.default.createFile(atPath: path, contents: nil, attributes: [.posixPermissions: 0o640])
            }
            guard let file = FileHandle(forWritingAtPath: path) else {
                logger.error("cannot open the security event file; events are kept in the ring and counted only", metadata: ["path": "\(path)"])
                return
            }
            _ = try? file.seekToEnd()
            handle = file
        }
        for await line in lines {
            do {
                try handle.write(contentsOf: Data((line + "\n").utf8))
            } catch {
                logger.error("writing a security event failed", metadata: ["error": "\(error)"])
            }
        }
        if settings.output == .file { try? handle.close() }
    }
}

/// Runs `SecurityEventLog.run` as one of the node's services.
struct SecurityEventService: Service {
    let events: SecurityEventLog
    let keys: KeyService

    func run() async throws {
        await cancelWhenGracefulShutdown {
            await events.run { [keys] source in keys.isSourceThrottled(source) }
        }
    }
}
