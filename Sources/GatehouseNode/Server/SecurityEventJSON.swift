import Foundation
import GatehouseCore

/// A security event as one JSON object with ECS field names: the line the event stream
/// writes (by `JSONLineWriter`, keys sorted) and an element of `GET /v1/events`'s `events`.
enum SecurityEventJSON {
    /// `event.dataset` of security events.
    static let dataset = "gatehouse.security"

    typealias Field = JSONLineWriter.Value

    static func object(_ event: SecurityEvent) -> Field {
        var object: [(key: String, value: Field)] = [
            ("@timestamp", .text(JSONTime.format(event.timeMs))),
            ("event.dataset", .text(dataset)),
            ("event.kind", .text(event.type.kind)),
            ("event.category", texts(event.type.category)),
            ("event.type", texts(event.type.ecsType)),
            ("event.action", .text(event.type.rawValue)),
            ("event.outcome", .text(event.type.outcome)),
            ("event.sequence", .number(Int64(clamping: event.sequence))),
            ("host.name", .text(event.node)),
            ("message", .text(event.message)),
        ]
        if let ip = event.sourceIP {
            object.append(("source.ip", .text(ip)))
            object.append(("related.ip", texts([ip])))
        }
        if let keyID = event.keyID { object.append(("gatehouse.key_id", .text(keyID))) }
        if let requestID = event.requestID { object.append(("trace.id", .text(requestID))) }
        if let count = event.count { object.append(("gatehouse.count", .number(count))) }
        if let member = event.member { object.append(("gatehouse.member", .text(member))) }
        if let start = event.windowStartMs { object.append(("event.start", .text(JSONTime.format(start)))) }
        return .object(object)
    }

    private static func texts(_ values: [String]) -> Field { .list(values.map { .text($0) }) }

    /// The event as one line of JSON (no newline).
    static func line(_ event: SecurityEvent) -> String {
        var line = JSONLineWriter()
        line.write(object(event))
        return String(decoding: line.bytes, as: UTF8.self)
    }
}
