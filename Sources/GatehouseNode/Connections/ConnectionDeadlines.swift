/// The deadlines of one client connection, on a monotonic clock read by the caller
/// (nanoseconds; `EventLoop.now` in the shell, a fake clock in tests).
///
/// Deadlines move lazily: activity only records its time, and `expired(at:)` compares, so a
/// busy connection costs no timer work per read; the shell re-arms one timer at
/// `next` whenever it fires early.
struct ConnectionDeadlines: Sendable, Equatable {
    struct Timeouts: Sendable, Equatable {
        var idle: Int64?
        var auth: Int64?
        var frame: Int64?
        var stall: Int64?

        /// Milliseconds from the settings to nanoseconds; `0` is off. `authRequired` false
        /// drops the authentication deadline.
        init(idleMs: Int64, authMs: Int64, frameMs: Int64, stallMs: Int64, authRequired: Bool) {
            func nanoseconds(_ ms: Int64) -> Int64? { ms > 0 ? ms * 1_000_000 : nil }
            idle = nanoseconds(idleMs)
            auth = authRequired ? nanoseconds(authMs) : nil
            frame = nanoseconds(frameMs)
            stall = nanoseconds(stallMs)
        }
    }

    let timeouts: Timeouts
    private(set) var lastActivity: Int64
    /// When the connection must have authenticated; `nil` once it has (or need not).
    private(set) var authBy: Int64?
    /// Since when a command or request has been incomplete.
    private(set) var partialSince: Int64?
    /// Since when output has been above the high-water mark.
    private(set) var stalledSince: Int64?

    init(timeouts: Timeouts, openedAt now: Int64) {
        self.timeouts = timeouts
        lastActivity = now
        authBy = timeouts.auth.map { now + $0 }
    }

    mutating func active(at now: Int64) {
        lastActivity = now
    }

    mutating func authenticated() {
        authBy = nil
    }

    /// A read left a command incomplete (`partial`), and `progressed` says whether it also
    /// completed one: progress restarts the frame deadline, so a fast pipeliner whose
    /// commands straddle reads is never cut off, while one command dribbled byte by byte is.
    mutating func frame(partial: Bool, progressed: Bool, at now: Int64) {
        if !partial {
            partialSince = nil
        } else if progressed || partialSince == nil {
            partialSince = now
        }
    }

    /// While output is stalled the connection is not read, so a command left incomplete is
    /// not the client's doing: its frame deadline waits, and restarts when reading resumes.
    mutating func output(stalled: Bool, at now: Int64) {
        if !stalled {
            if stalledSince != nil, partialSince != nil { partialSince = now }
            stalledSince = nil
        } else if stalledSince == nil {
            stalledSince = now
        }
    }

    /// The earliest time something may expire.
    var next: Int64? {
        var earliest = authBy
        func consider(_ candidate: Int64?) {
            guard let candidate else { return }
            earliest = earliest.map { min($0, candidate) } ?? candidate
        }
        if let frame = timeouts.frame, let partialSince, stalledSince == nil { consider(partialSince + frame) }
        if let stall = timeouts.stall, let stalledSince { consider(stalledSince + stall) }
        if let idle = timeouts.idle { consider(lastActivity + idle) }
        return earliest
    }

    /// What has expired by `now`, the most specific reason first.
    func expired(at now: Int64) -> ConnectionCloseReason? {
        if let authBy, now >= authBy { return .authTimeout }
        if let frame = timeouts.frame, let partialSince, stalledSince == nil, now >= partialSince + frame { return .frameTimeout }
        if let stall = timeouts.stall, let stalledSince, now >= stalledSince + stall { return .outputStalled }
        if let idle = timeouts.idle, now >= lastActivity + idle { return .idle }
        return nil
    }
}
