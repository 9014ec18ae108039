import Foundation
import GatehouseCore

/// A security event as one JSON object with ECS field names: the line the event stream
/// writes and an element of `GET /v1/events`'s `events`. Encoded by `JSONEncoder` with
/// sorted keys (see `JSONLogHandler` for why not `JSONSerialization`).
enum SecurityEventJSON {
    /// `event.dataset` of security events.
    static let dataset = "gatehouse.security"

    enum Field: Encodable, Equatable {
        case text(String)
        case number(Int64)
        case texts([String])

        func encode(to encoder: any Encoder) throws {
            var container = encoder.singleValueContainer()
            switch self {
            case .text(let text): try container.encode(text)
            case .number(let number): try container.encode(number)
            case .texts(let texts): try container.encode(texts)
            }
        }
    }

    static func object(_ event: SecurityEvent) -> [String: Field] {
        var object: [String: Field] = [
            "@timestamp": .text(JSONTime.format(event.timeMs)),
            "event.dataset": .text(dataset),
            "event.kind": .text(event.type.kind),
            "event.category": .texts(event.type.category),
            "event.type": .texts(event.type.ecsType),
            "event.action": .text(event.type.rawValue),
            "event.outcome": .text(event.type.outcome),
            "event.sequence": .number(Int64(clamping: event.sequence)),
            "host.name": .text(event.node),
            "message": .text(event.message),
        ]
        if let ip = event.sourceIP {
            object["source.ip"] = .text(ip)
            object["related.ip"] = .texts([ip])
        }
        if let keyID = event.keyID { object["gatehouse.key_id"] = .text(keyID) }
        if let requestID = event.requestID { object["trace.id"] = .text(requestID) }
        if let count = event.count { object["gatehouse.count"] = .number(count) }
        if let member = event.member { object["gatehouse.member"] = .text(member) }
        if let start = event.windowStartMs { object["event.start"] = .text(JSONTime.format(start)) }
        return object
    }

    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()

    /// The event as one line of JSON (no newline).
    static func line(_ event: SecurityEvent) -> String {
        guard let data = try? encoder.encode(object(event)) else { return "{}" }
        return String(decoding: data, as: UTF8.self)
    }
}
