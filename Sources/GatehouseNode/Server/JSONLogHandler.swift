import Foundation
import Logging

/// One JSON object per line on standard error: time, level, message, label and metadata.
/// Access lines (`event.dataset` `gatehouse.access`, see `AccessLog`) name time, level and
/// message as ECS does (`@timestamp`, `log.level`, `message`), so collectors map them as they are.
///
/// Secrets never reach here: callers log ids and codes, never keys or tokens.
public struct JSONLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level
    public var metadataProvider: Logger.MetadataProvider?
    private let label: String
    private let sink: @Sendable (String) -> Void

    public init(label: String, level: Logger.Level = .info, sink: @escaping @Sendable (String) -> Void = JSONLogHandler.standardError) {
        self.label = label
        self.logLevel = level
        self.sink = sink
    }

    public static let standardError: @Sendable (String) -> Void = { line in
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var merged = metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { $1 } }
        if let extra = event.metadata { merged.merge(extra) { $1 } }
        var object: [String: Any]
        if case .string(AccessLog.dataset)? = merged["event.dataset"] {
            object = ["@timestamp": Self.timestamp(), "log.level": event.level.rawValue, "message": "\(event.message)", "log.logger": label]
        } else {
            object = ["ts": Self.timestamp(), "level": event.level.rawValue, "msg": "\(event.message)", "logger": label]
        }
        for (key, value) in merged { object[key] = Self.plain(value) }
        guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]) else { return }
        sink(String(decoding: data, as: UTF8.self))
    }

    private static func plain(_ value: Logger.Metadata.Value) -> Any {
        switch value {
        case .string(let text): return text
        // Numbers stay numbers (`event.duration`, status codes), so collectors can sum them.
        case .stringConvertible(let number as Int): return number
        case .stringConvertible(let number as Int64): return number
        case .stringConvertible(let convertible): return convertible.description
        case .array(let items): return items.map(plain)
        case .dictionary(let dictionary): return dictionary.mapValues(plain)
        }
    }

    private static func timestamp() -> String {
        Date().formatted(.iso8601.year().month().day().time(includingFractionalSeconds: true).timeZone(separator: .omitted))
    }
}
