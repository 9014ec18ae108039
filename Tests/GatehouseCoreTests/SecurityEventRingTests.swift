import GatehouseCore
import Testing

@Suite("Security event ring and cursors")
struct SecurityEventRingTests {
    static func event(_ n: Int) -> SecurityEvent {
        SecurityEvent(.adminAuthFailed, timeMs: Int64(n), node: "n1", message: "m\(n)")
    }

    @Test("events are numbered from 1 and read after a cursor, a page at a time")
    func pages() {
        var ring = SecurityEventRing(capacity: 10)
        #expect(ring.events(after: 0, limit: 5) == .init(events: [], missed: 0, nextCursor: 0))
        for n in 1...7 { ring.append(Self.event(n)) }
        let first = ring.events(after: 0, limit: 5)
        #expect(first.events.map(\.sequence) == [1, 2, 3, 4, 5])
        #expect(first.missed == 0)
        #expect(first.nextCursor == 5)
        let second = ring.events(after: first.nextCursor, limit: 5)
        #expect(second.events.map(\.sequence) == [6, 7])
        #expect(second.nextCursor == 7)
        let none = ring.events(after: 7, limit: 5)
        #expect(none.events.isEmpty && none.nextCursor == 7 && none.missed == 0)
        #expect(!ring.hasEvents(after: 7))
        #expect(ring.hasEvents(after: 6))
    }

    @Test("a cursor older than the ring gets the oldest held and the number missed")
    func missed() {
        var ring = SecurityEventRing(capacity: 4)
        for n in 1...10 { ring.append(Self.event(n)) }
        #expect(ring.count == 4)
        #expect(ring.oldestSequence == 7)
        let page = ring.events(after: 2, limit: 100)
        #expect(page.events.map(\.sequence) == [7, 8, 9, 10])
        #expect(page.events.map(\.message) == ["m7", "m8", "m9", "m10"])
        #expect(page.missed == 4)
        #expect(page.nextCursor == 10)
        #expect(ring.events(after: 6, limit: 100).missed == 0)
    }

    @Test("a cursor from before a restart starts again at the oldest held")
    func cursorAhead() {
        var ring = SecurityEventRing(capacity: 4)
        for n in 1...3 { ring.append(Self.event(n)) }
        let page = ring.events(after: 50, limit: 100)
        #expect(page.events.map(\.sequence) == [1, 2, 3])
        #expect(page.missed == 47)
        #expect(page.nextCursor == 3)
        #expect(ring.hasEvents(after: 50))
    }

    @Test("any cursor a client sends is answered, the largest and an empty ring's included")
    func extremeCursors() {
        var ring = SecurityEventRing(capacity: 4)
        #expect(ring.events(after: .max, limit: 10) == .init(events: [], missed: .max, nextCursor: 0))
        #expect(ring.events(after: 0, limit: 0) == .init(events: [], missed: 0, nextCursor: 0))
        for n in 1...3 { ring.append(Self.event(n)) }
        let page = ring.events(after: .max, limit: 10)
        #expect(page.events.map(\.sequence) == [1, 2, 3] && page.nextCursor == 3)
        #expect(ring.events(after: .max - 1, limit: 1).events.map(\.sequence) == [1])
        #expect(ring.events(after: 3, limit: 10) == .init(events: [], missed: 0, nextCursor: 3))
    }
}
