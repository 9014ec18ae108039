import Foundation
import GatehouseCore
import NIOCore

/// One line of `POST /v1/keys/import`: the fields of `POST /v1/keys`, and at most one of
/// `key` (the caller's own key string) or `sha256` (64 hex digits: the SHA-256 another
/// system kept of the key), with `start` (what to show of a key imported by its hash).
/// Neither: a new key, its secret in the answer.
struct ImportKeyLine: Decodable {
    var body: CreateKeyBody
    var secret: ImportedSecret

    enum SecretKeys: String, CodingKey, CaseIterable {
        case key, sha256, start
    }

    /// Made once: a million-line import checks every line against it.
    static let knownFields = CreateKeyBody.CodingKeys.allCases.map(\.rawValue) + SecretKeys.allCases.map(\.rawValue)

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: AnyCodingKey.self)
        try container.rejectUnknownFields(Self.knownFields)
        body = try CreateKeyBody(fields: container)
        let key = try container.decodeIfPresent(String.self, forKey: container.field(SecretKeys.key.rawValue))
        let hex = try container.decodeIfPresent(String.self, forKey: container.field(SecretKeys.sha256.rawValue))
        let start = try container.decodeIfPresent(String.self, forKey: container.field(SecretKeys.start.rawValue))
        switch (key, hex) {
        case (nil, nil):
            guard start == nil else { throw APIError.invalid("start", "goes with sha256 only (a key's own start is taken from the key)") }
            secret = .generated
        case (.some(let key), nil):
            guard start == nil else { throw APIError.invalid("start", "goes with sha256 only (a key's own start is taken from the key)") }
            secret = .key(key)
        case (nil, .some(let hex)):
            guard let digest = LookupHash(hex: hex) else {
                throw APIError.invalid("sha256", "must be 64 hexadecimal digits: the SHA-256 of the key as the other system kept it")
            }
            secret = .sha256(digest, start: start ?? "")
        case (.some, .some):
            throw APIError.invalid("sha256", "give key or sha256, not both")
        }
    }
}

/// An import request's body cut into lines: NDJSON, one JSON object per line, blank lines
/// skipped, line numbers from 1 as an editor shows them.
enum ImportLines {
    struct Line {
        var number: Int
        var bytes: ByteBufferView
    }

    /// The non-blank lines, or `nil` as soon as there are more than `limit`: a body of eight
    /// MiB of newlines must not become millions of entries before it is refused.
    static func split(_ body: ByteBuffer, atMost limit: Int) -> [Line]? {
        let view = body.readableBytesView
        var lines: [Line] = []
        var number = 0
        var start = view.startIndex
        while start < view.endIndex {
            let end = view[start...].firstIndex(of: UInt8(ascii: "\n")) ?? view.endIndex
            number += 1
            var line = view[start..<end]
            while let last = line.last, last == UInt8(ascii: "\r") || last == UInt8(ascii: " ") || last == UInt8(ascii: "\t") {
                line = line.dropLast()
            }
            if line.contains(where: { $0 != UInt8(ascii: " ") && $0 != UInt8(ascii: "\t") }) {
                guard lines.count < limit else { return nil }
                lines.append(Line(number: number, bytes: line))
            }
            start = end == view.endIndex ? end : view.index(after: end)
        }
        return lines
    }
}

/// The answer to an import: how many keys were imported and refused, and per line the new
/// key's id (and secret, for a key Gatehouse generated: shown this once) or why it was refused.
/// Public and decodable for `gatehouse keys import`, which reads it back: one definition of
/// the answer's shape for both ends.
public struct ImportView: Codable, Sendable {
    public var imported: Int
    public var refused: Int
    public var results: [LineResult]

    public init(imported: Int, refused: Int, results: [LineResult]) {
        self.imported = imported
        self.refused = refused
        self.results = results
    }

    public struct LineResult: Codable, Sendable {
        public var line: Int
        public var id: String?
        public var key: String?
        public var start: String?
        public var error: ErrorView?

        init(line: Int) {
            self.line = line
        }
    }

    public struct ErrorView: Codable, Sendable {
        public var code: String
        public var field: String?
        public var message: String
    }
}
