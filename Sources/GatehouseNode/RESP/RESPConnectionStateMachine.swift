/// The life of one RESP connection apart from parsing and running commands: when to read,
/// when to stop reading, and when to close and why. Pure: events carry the time and the
/// state of the output, and each returns what the shell (`RESPConnectionHandler`) must do.
///
/// Reading is explicit (the channel's `autoRead` is off): the shell asks for more bytes only
/// when told `.read`, so a client that pipelines and never reads its replies stops being
/// read once its replies pass the high-water mark, and costs the node no more than that
/// plus one read's replies.
struct RESPConnectionStateMachine: Sendable {
    struct Settings: Sendable, Equatable {
        var timeouts: ConnectionDeadlines.Timeouts
        var outputHighWaterBytes: Int
        var outputLimitBytes: Int
        var maxAuthFailures: Int

        init(_ settings: ConnectionSettings, authRequired: Bool) {
            timeouts = .init(
                idleMs: settings.respIdleTimeoutMs, authMs: settings.authTimeoutMs, frameMs: settings.frameTimeoutMs,
                stallMs: settings.outputStallTimeoutMs, authRequired: authRequired)
            outputHighWaterBytes = settings.outputHighWaterBytes
            outputLimitBytes = settings.outputLimitBytes
            maxAuthFailures = settings.maxAuthFailures
        }
    }

    /// The output side as the channel sees it after a flush.
    struct Output: Sendable, Equatable {
        var isWritable: Bool
        /// Bytes queued in the channel, not yet taken by the socket.
        var pendingBytes: Int

        static let drained = Output(isWritable: true, pendingBytes: 0)
    }

    enum Action: Sendable, Equatable {
        /// Ask the channel for more bytes.
        case read
        /// Do nothing now (reading stays as it is: requested, or paused).
        case none
        /// Close the connection, counting the reason.
        case close(ConnectionCloseReason)
    }

    enum State: Sendable, Equatable {
        /// A read is requested (or being delivered).
        case reading
        /// Replies are not draining; no read is requested.
        case paused
        case closed
    }

    let settings: Settings
    private(set) var state = State.reading
    private(set) var deadlines: ConnectionDeadlines
    private(set) var authFailures = 0

    init(settings: Settings, openedAt now: Int64) {
        self.settings = settings
        deadlines = ConnectionDeadlines(timeouts: settings.timeouts, openedAt: now)
    }

    /// The channel became active: start reading.
    mutating func opened() -> Action {
        state == .closed ? .none : .read
    }

    /// Bytes arrived and were parsed; `partialCommand` says whether an incomplete command
    /// is left over, `completedCommands` whether this read finished any.
    mutating func bytesRead(partialCommand: Bool, completedCommands: Bool, at now: Int64) {
        deadlines.active(at: now)
        deadlines.frame(partial: partialCommand, progressed: completedCommands, at: now)
    }

    /// The replies of a read were flushed: read on, pause, or close when over the cap.
    mutating func readComplete(_ output: Output, at now: Int64) -> Action {
        switch state {
        case .closed:
            return .none
        case .reading, .paused:
            return apply(output, at: now)
        }
    }

    /// The channel's writability changed.
    mutating func writabilityChanged(_ output: Output, at now: Int64) -> Action {
        switch state {
        case .closed:
            return .none
        case .reading:
            // A read is outstanding already; only pause or close here.
            let action = apply(output, at: now)
            return action == .read ? .none : action
        case .paused:
            return apply(output, at: now)
        }
    }

    mutating func authSucceeded() {
        deadlines.authenticated()
    }

    /// A wrong token: closes after `maxAuthFailures`, so a pipeline of guesses is cut short.
    mutating func authFailed() -> Action {
        guard state != .closed else { return .none }
        authFailures += 1
        guard authFailures >= settings.maxAuthFailures else { return .none }
        state = .closed
        return .close(.authFailures)
    }

    /// The timer armed at `nextDeadline` fired.
    mutating func timerFired(at now: Int64) -> Action {
        guard state != .closed, let reason = deadlines.expired(at: now) else { return .none }
        state = .closed
        return .close(reason)
    }

    /// The shell closes for a reason of its own (QUIT, a protocol error, the peer left).
    mutating func closed() {
        state = .closed
    }

    /// When the shell's timer should next fire; `nil`: no deadline applies.
    var nextDeadline: Int64? {
        state == .closed ? nil : deadlines.next
    }

    private mutating func apply(_ output: Output, at now: Int64) -> Action {
        if output.pendingBytes > settings.outputLimitBytes {
            state = .closed
            return .close(.outputLimit)
        }
        let drained = output.isWritable && output.pendingBytes <= settings.outputHighWaterBytes
        if drained {
            if state == .paused { deadlines.active(at: now) }
            deadlines.output(stalled: false, at: now)
            state = .reading
            return .read
        }
        deadlines.output(stalled: true, at: now)
        state = .paused
        return .none
    }
}
