import Foundation
import GatehouseTestKit
@testable import GatehouseNode
import Logging
import Testing

/// The log line writer writes exactly what `JSONEncoder` (sorted keys, slashes unescaped) wrote
/// for the same values, for any text: quotes, backslashes, every control character, non-ASCII.
@Suite("JSON line writer")
struct JSONLineWriterTests {
    static let alphabet: [String] = ["a", "Z", "0", "\"", "\\", "/", " ", "é", "→", "😀", "\u{7F}", "\u{2028}", "_", ".", "@"]
        + (0..<32).map { String(UnicodeScalar(UInt8($0))) }

    static func text(_ random: inout SeededGenerator) -> String {
        (0..<Int.random(in: 0...12, using: &random)).map { _ in alphabet.randomElement(using: &random)! }.joined()
    }

    static func value(_ random: inout SeededGenerator, depth: Int) -> JSONLineWriter.Value {
        switch Int.random(in: 0..<(depth > 1 ? 2 : 4), using: &random) {
        case 0: return .text(text(&random))
        case 1: return .number(Int64.random(in: Int64.min...Int64.max, using: &random))
        case 2: return .list((0..<Int.random(in: 0...3, using: &random)).map { _ in value(&random, depth: depth + 1) })
        default: return .object(fields(&random, depth: depth + 1))
        }
    }

    static func fields(_ random: inout SeededGenerator, depth: Int) -> [(key: String, value: JSONLineWriter.Value)] {
        var seen = Set<String>()
        return (0..<Int.random(in: 0...6, using: &random)).compactMap { _ in
            let key = text(&random)
            guard seen.insert(key).inserted else { return nil }
            return (key, value(&random, depth: depth))
        }
    }

    @Test func writesWhatJSONEncoderWrote() throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var random = SeededGenerator(seed: 14)
        for _ in 0..<2_000 {
            let fields = Self.fields(&random, depth: 0)
            var line = JSONLineWriter()
            line.writeObject(fields)
            let expected = try encoder.encode(JSONLineWriter.Value.object(fields))
            #expect(String(decoding: line.bytes, as: UTF8.self) == String(decoding: expected, as: UTF8.self))
        }
    }

    @Test func aLogLineKeepsBaseFieldsNumbersAndSortedKeys() throws {
        let lines = LockedBox<[String]>([])
        var handler = JSONLogHandler(label: "test", sink: { line in lines.withLock { $0.append(line) } })
        handler.metadata = ["node": "n1"]
        handler.log(event: LogEvent(
            level: .info, message: "access \"quoted\"\n", metadata: ["event.dataset": .string(AccessLog.dataset), "event.duration": .stringConvertible(1234), "z": .array([.string("a/b")])],
            source: "t", file: #fileID, function: #function, line: #line))
        let line = try #require(lines.withLock { $0.first })
        let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        #expect(object["message"] as? String == "access \"quoted\"\n")
        #expect(object["event.duration"] as? Int == 1234)
        #expect(object["node"] as? String == "n1" && object["log.level"] as? String == "info")
        let timestamp = try #require(object["@timestamp"] as? String)
        #expect(JSONTime.parse(timestamp) != nil)
        #expect(line.hasPrefix(#"{"@timestamp":"#) && line.contains(#""z":["a/b"]"#))
    }
}
