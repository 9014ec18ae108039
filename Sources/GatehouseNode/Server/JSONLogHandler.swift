import Foundation
import Logging

/// One JSON object per line on standard error: time, level, message, label and metadata.
/// Access lines (`event.dataset` `gatehouse.access`, see `AccessLog`) name time, level and
/// message as ECS does (`@timestamp`, `log.level`, `message`), so collectors map them as they are.
///
/// Secrets never reach here: callers log ids and codes, never keys or tokens. The line is
/// written by `JSONLineWriter`, keys in byte order.
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
        // The event's metadata, then the provider's, then the handler's: each key once, the
        // first that has it winning, without building a merged dictionary.
        let extra = event.metadata ?? [:]
        let provided = metadataProvider?.get() ?? [:]
        var merged: [(key: String, value: Logger.Metadata.Value)] = []
        merged.reserveCapacity(extra.count + provided.count + metadata.count)
        for (key, item) in extra { merged.append((key, item)) }
        for (key, item) in provided where extra[key] == nil { merged.append((key, item)) }
        for (key, item) in metadata where extra[key] == nil && provided[key] == nil { merged.append((key, item)) }
        let dataset = extra["event.dataset"] ?? provided["event.dataset"] ?? metadata["event.dataset"]
        var fields: [(key: String, value: JSONLineWriter.Value)] = []
        fields.reserveCapacity(merged.count + 4)
        let timestamp = JSONLineWriter.Value.text(JSONTime.format(WallClock.nowMs()))
        if case .string(AccessLog.dataset)? = dataset {
            fields += [
                ("@timestamp", timestamp), ("log.level", .text(event.level.rawValue)), ("message", .text("\(event.message)")),
                ("log.logger", .text(label)),
            ]
        } else {
            fields += [("ts", timestamp), ("level", .text(event.level.rawValue)), ("msg", .text("\(event.message)")), ("logger", .text(label))]
        }
        // Metadata named like a base field replaces it, as a dictionary's later value would.
        for (key, value) in merged {
            if let base = fields.prefix(4).firstIndex(where: { $0.key == key }) {
                fields[base].value = Self.value(value)
            } else {
                fields.append((key, Self.value(value)))
            }
        }
        var line = JSONLineWriter(capacity: 256 + merged.count * 48)
        line.writeObject(fields)
        sink(String(decoding: line.bytes, as: UTF8.self))
    }

    /// A metadata value as the line writes it. Numbers stay numbers (`event.duration`, status
    /// codes), so collectors can sum them.
    static func value(_ value: Logger.Metadata.Value) -> JSONLineWriter.Value {
        switch value {
        case .string(let text): .text(text)
        case .stringConvertible(let number as Int): .number(Int64(number))
        case .stringConvertible(let number as Int64): .number(number)
        case .stringConvertible(let convertible): .text(convertible.description)
        case .array(let items): .list(items.map(Self.value))
        case .dictionary(let dictionary): .object(dictionary.map { ($0.key, Self.value($0.value)) })
        }
    }
}
