/// The last `capacity` security events of a node, numbered from 1 in the order they were
/// added. A reader keeps the number of the last event it saw (its cursor) and asks for the
/// events after it; when the ring has dropped some of those meanwhile, the answer starts at
/// the oldest it holds and says how many were missed.
public struct SecurityEventRing: Sendable {
    public let capacity: Int
    private var slots: [SecurityEvent] = []
    /// Where the oldest event is in `slots` once the ring is full.
    private var head = 0
    /// The number of the newest event; 0 while empty.
    public private(set) var lastSequence: UInt64 = 0

    public init(capacity: Int) {
        precondition(capacity > 0, "a ring holds at least one event")
        self.capacity = capacity
    }

    public var count: Int { slots.count }

    /// The number of the oldest event held (`lastSequence + 1` while empty).
    public var oldestSequence: UInt64 { lastSequence + 1 - UInt64(slots.count) }

    /// Numbers the event, keeps it (dropping the oldest when full) and returns it numbered.
    @discardableResult
    public mutating func append(_ event: SecurityEvent) -> SecurityEvent {
        var event = event
        lastSequence += 1
        event.sequence = lastSequence
        if slots.count < capacity {
            slots.append(event)
        } else {
            slots[head] = event
            head = (head + 1) % capacity
        }
        return event
    }

    /// A page of events after a cursor.
    public struct Page: Sendable, Equatable {
        public var events: [SecurityEvent]
        /// Events after the cursor the ring no longer holds: the reader fell behind (or the
        /// cursor is from before a restart of the node).
        public var missed: UInt64
        /// The cursor for the next page: the last event's number, or the cursor asked for.
        public var nextCursor: UInt64

        public init(events: [SecurityEvent], missed: UInt64, nextCursor: UInt64) {
            self.events = events
            self.missed = missed
            self.nextCursor = nextCursor
        }
    }

    /// Up to `limit` events numbered above `cursor`, oldest first. A cursor above the newest
    /// number can only come from before a restart: the answer starts at the oldest held and
    /// counts the cursor's events as missed.
    public func events(after cursor: UInt64, limit: Int) -> Page {
        // Compared before anything is added to the cursor: any UInt64 may come from a client.
        let from: UInt64
        var missed: UInt64 = 0
        if cursor > lastSequence {
            from = oldestSequence
            missed = cursor - lastSequence
        } else if cursor < oldestSequence - 1 {
            from = oldestSequence
            missed = oldestSequence - 1 - cursor
        } else {
            from = cursor + 1
        }
        var events: [SecurityEvent] = []
        var sequence = from
        while sequence <= lastSequence, events.count < max(0, limit) {
            events.append(slots[index(of: sequence)])
            sequence += 1
        }
        let next = events.last?.sequence ?? (cursor > lastSequence ? lastSequence : from - 1)
        return Page(events: events, missed: missed, nextCursor: next)
    }

    /// Whether an event numbered above `cursor` is held (or the cursor is from before a restart).
    public func hasEvents(after cursor: UInt64) -> Bool { lastSequence != cursor }

    private func index(of sequence: UInt64) -> Int {
        let offset = Int(sequence - oldestSequence)
        return slots.count < capacity ? offset : (head + offset) % capacity
    }
}
