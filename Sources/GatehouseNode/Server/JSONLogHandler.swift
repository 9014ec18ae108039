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
        var object: [String: LineValue]
        if case .string(AccessLog.dataset)? = merged["event.dataset"] {
            object = [
                "@timestamp": .text(Self.timestamp()), "log.level": .text(event.level.rawValue), "message": .text("\(event.message)"),
                "log.logger": .text(label),
            ]
        } else {
            object = ["ts": .text(Self.timestamp()), "level": .text(event.level.rawValue), "msg": .text("\(event.message)"), "logger": .text(label)]
        }
        for (key, value) in merged { object[key] = LineValue(value) }
        guard let data = try? Self.encoder.encode(object) else { return }
        sink(String(decoding: data, as: UTF8.self))
    }

    /// `JSONEncoder` sorts keys by their code points; `JSONSerialization` compared them through
    /// ICU collation with the current locale, which was most of the ~200 µs an access line cost.
    private static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()

    /// A metadata value as the line writes it.
    private enum LineValue: Encodable {
        case text(String)
        case number(Int64)
        case list([LineValue])
        case object([String: LineValue])

        init(_ value: Logger.Metadata.Value) {
            switch value {
            case .string(let text): self = .text(text)
            // Numbers stay numbers (`event.duration`, status codes), so collectors can sum them.
            case .stringConvertible(let number as Int): self = .number(Int64(number))
            case .stringConvertible(let number as Int64): self = .number(number)
            case .stringConvertible(let convertible): self = .text(convertible.description)
            case .array(let items): self = .list(items.map(LineValue.init))
            case .dictionary(let dictionary): self = .object(dictionary.mapValues(LineValue.init))
            }
        }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.singleValueContainer()
            switch self {
            case .text(let text): try container.encode(text)
            case .number(let number): try container.encode(number)
            case .list(let items): try container.encode(items)
            case .object(let fields): try container.encode(fields)
            }
        }
    }

    private static func timestamp() -> String {
        Date().formatted(.iso8601.year().month().day().time(includingFractionalSeconds: true).timeZone(separator: .omitted))
    }
}
