import Foundation
import GatehouseCore

// The HTTP-free half of reading JSON bodies: decoding bytes into the request models
// (`HTTPModels.swift`) with the API's error shapes. Kept apart from `JSONBody.swift`
// (Hummingbird) so that the fuzz target for HTTP bodies compiles these files alone.

/// A coding key for any field name, to list what a JSON object actually contains.
struct AnyCodingKey: CodingKey {
    var stringValue: String
    var intValue: Int?
    init(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) {
        self.stringValue = String(intValue)
        self.intValue = intValue
    }
}

/// Thrown while decoding a body that has a field the endpoint does not know.
struct UnknownFieldError: Error {
    var field: String
    var known: [String]
}

extension Decoder {
    /// Refuses fields outside `known`: a typo like `"scope"` for `"scopes"` must not be
    /// silently ignored on an API that grants access.
    func rejectUnknownFields(_ known: [String]) throws {
        let container = try self.container(keyedBy: AnyCodingKey.self)
        for key in container.allKeys where !known.contains(key.stringValue) {
            throw UnknownFieldError(field: JSONBody.fieldPath(codingPath + [key]), known: known)
        }
    }
}

/// Reading and writing JSON bodies with the node's size limit and error shapes.
enum JSONBody {
    /// Decodes a request body's bytes (already collected, size-checked and non-empty) into
    /// `Body`, turning every failure into the API's error shape. No HTTP types: the fuzz
    /// target `fuzz/Sources/http-json` runs exactly this on arbitrary bytes.
    static func decode<Body: Decodable>(_ type: Body.Type, from data: Data) throws -> Body {
        do {
            return try JSONDecoder().decode(Body.self, from: data)
        } catch let error as UnknownFieldError {
            throw APIError(
                .badRequest, code: "unknown_field", field: error.field,
                "is not a field of this request; known fields: \(error.known.joined(separator: ", "))", kind: .unknownField)
        } catch let error as APIError {
            throw error
        } catch let error as DecodingError {
            throw describe(error)
        } catch {
            throw APIError.badJSON("the body is not valid JSON")
        }
    }

    static func describe(_ error: DecodingError) -> APIError {
        func path(_ context: DecodingError.Context) -> String {
            fieldPath(context.codingPath)
        }
        switch error {
        case .typeMismatch(_, let context) where context.codingPath.isEmpty:
            return .badJSON("the body must be a JSON object")
        case .typeMismatch(let type, let context):
            return .invalid(path(context), "has the wrong type; expected \(typeName(type))")
        case .valueNotFound(let type, let context):
            return .invalid(path(context), "must not be null; expected \(typeName(type))")
        case .keyNotFound(let key, let context):
            let prefix = path(context)
            return .invalid(prefix.isEmpty ? key.stringValue : "\(prefix).\(key.stringValue)", "is required")
        case .dataCorrupted(let context):
            if context.codingPath.isEmpty { return .badJSON("the body is not valid JSON") }
            return .invalid(path(context), context.debugDescription)
        @unknown default:
            return .badJSON("the body could not be read")
        }
    }

    /// `limits[0].window_ms` from a coding path; names that are keys are redacted.
    static func fieldPath(_ path: [any CodingKey]) -> String {
        var text = ""
        for key in path {
            if let index = key.intValue {
                text += "[\(index)]"
            } else {
                let name = APIKeyFormat.redacted(key.stringValue)
                text += text.isEmpty ? name : ".\(name)"
            }
        }
        return text
    }

    private static func typeName(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: "a string"
        case is Int64.Type, is Int.Type: "an integer"
        case is Bool.Type: "true or false"
        case is [String].Type: "an array of strings"
        case is [String: String].Type: "an object of strings"
        default: "\(type)"
        }
    }
}

/// RFC 3339 times in JSON; Unix milliseconds inside.
enum JSONTime {
    static func format(_ ms: Int64) -> String {
        Date(timeIntervalSince1970: Double(ms) / 1000)
            .formatted(.iso8601.year().month().day().time(includingFractionalSeconds: true).timeZone(separator: .omitted))
    }

    static func parse(_ text: String) -> Int64? {
        let withFraction = Date.ISO8601FormatStyle(includingFractionalSeconds: true)
        let plain = Date.ISO8601FormatStyle()
        guard let date = (try? withFraction.parse(text)) ?? (try? plain.parse(text)) else { return nil }
        return Int64((date.timeIntervalSince1970 * 1000).rounded())
    }
}
