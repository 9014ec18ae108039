import Foundation
import GatehouseCore
import HTTPTypes
import Hummingbird
import NIOCore

/// A page of `GET /v1/events` as JSON.
struct EventPageView: Encodable {
    var events: [SecurityEventJSON.Field]
    /// The cursor for the next request: the last event's number (or the cursor asked for).
    var nextCursor: UInt64
    /// Events after the cursor the ring no longer held: 0 when none were missed.
    var missed: UInt64

    enum CodingKeys: String, CodingKey {
        case events, missed
        case nextCursor = "next_cursor"
    }
}

extension HTTPAPI {
    static let maxEventsLimit = 1000
    static let defaultEventsLimit = 100
    /// Longest long poll, and longest server-sent event stream (clients reconnect with `Last-Event-ID`).
    static let maxEventsWaitMs = 60_000
    static let maxEventStreamMs = 300_000

    /// `GET /v1/events`: the events after `cursor` (0: the oldest held), at most `limit`,
    /// waiting up to `wait_ms` for one when there is none yet. With `Accept: text/event-stream`,
    /// server-sent events from `cursor` or `Last-Event-ID` until `wait_ms` (default 5 min).
    func eventsQuery(_ request: Request) async throws -> Response {
        let parameters = request.uri.queryParameters
        let stream = request.headers[.accept]?.contains("text/event-stream") ?? false
        var cursor: UInt64 = 0
        if let text = parameters["cursor"] ?? (stream ? request.headers[.lastEventID].map { Substring($0) } : nil) {
            guard let value = UInt64(text) else { throw APIError.invalid("cursor", "must be an event number (0 or more) from next_cursor or an id") }
            cursor = value
        }
        var limit = Self.defaultEventsLimit
        if let text = parameters["limit"] {
            guard let value = Int(text), (1...Self.maxEventsLimit).contains(value) else {
                throw APIError.invalid("limit", "must be an integer from 1 to \(Self.maxEventsLimit)")
            }
            limit = value
        }
        let maxWait = stream ? Self.maxEventStreamMs : Self.maxEventsWaitMs
        var waitMs = stream ? Self.maxEventStreamMs : 0
        if let text = parameters["wait_ms"] {
            guard let value = Int(text), (0...maxWait).contains(value) else {
                throw APIError.invalid("wait_ms", "must be an integer from 0 to \(maxWait)")
            }
            waitMs = value
        }
        let events = service.events
        if stream {
            return Self.eventStream(events, from: cursor, limit: limit, forMs: waitMs)
        }
        if waitMs > 0 { await events.waitForEvents(after: cursor, timeout: .milliseconds(waitMs)) }
        let page = events.events(after: cursor, limit: limit)
        let view = EventPageView(events: page.events.map(SecurityEventJSON.object), nextCursor: page.nextCursor, missed: page.missed)
        return try JSONBody.response(view)
    }

    /// Server-sent events: `id:` is the event's number, `event:` its action, `data:` its JSON.
    /// Events missed before the first are announced by an `event: missed` with their count.
    private static func eventStream(_ events: SecurityEventLog, from cursor: UInt64, limit: Int, forMs: Int) -> Response {
        let body = ResponseBody { writer in
            let deadline = ContinuousClock.now + .milliseconds(forMs)
            var cursor = cursor
            try await writer.write(ByteBuffer(string: "retry: 1000\n\n"))
            // Until the time is up, the client goes (a write fails) or the node shuts down.
            while !Task.isCancelled, !events.isClosed {
                let page = events.events(after: cursor, limit: limit)
                var text = ""
                if page.missed > 0 { text += "event: missed\ndata: {\"missed\":\(page.missed)}\n\n" }
                for event in page.events {
                    text += "id: \(event.sequence)\nevent: \(event.type.rawValue)\ndata: \(SecurityEventJSON.line(event))\n\n"
                }
                cursor = page.nextCursor
                if !text.isEmpty { try await writer.write(ByteBuffer(string: text)) }
                if page.events.count == limit { continue }
                let left = deadline - ContinuousClock.now
                guard left > .zero else { break }
                await events.waitForEvents(after: cursor, timeout: min(left, .seconds(15)))
                if !events.events(after: cursor, limit: 1).events.isEmpty { continue }
                // A comment now and then, so proxies keep the stream open and a gone client is noticed.
                if ContinuousClock.now < deadline { try await writer.write(ByteBuffer(string: ": keep-alive\n\n")) }
            }
            try await writer.finish(nil)
        }
        return Response(
            status: .ok, headers: [.contentType: "text/event-stream", .cacheControl: "no-cache"], body: body)
    }
}

extension HTTPField.Name {
    static let lastEventID = Self("Last-Event-ID")!
}
