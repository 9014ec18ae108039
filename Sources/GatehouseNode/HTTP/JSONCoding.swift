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
        try container(keyedBy: AnyCodingKey.self).rejectUnknownFields(known)
    }
}

extension KeyedDecodingContainer where Key == AnyCodingKey {
    /// `Decoder.rejectUnknownFields` on a container the caller goes on reading its fields
    /// from: one container per object instead of two.
    func rejectUnknownFields(_ known: [String]) throws {
        for key in allKeys where !known.contains(key.stringValue) {
            throw UnknownFieldError(field: JSONBody.fieldPath(codingPath + [key]), known: known)
        }
    }

    func field(_ name: String) -> AnyCodingKey { AnyCodingKey(stringValue: name) }
}

/// Reading and writing JSON bodies with the node's size limit and error shapes.
enum JSONBody {
    /// Decodes a request body's bytes (already collected, size-checked and non-empty) into
    /// `Body`, turning every failure into the API's error shape. No HTTP types: the fuzz
    /// target `fuzz/Sources/http-json` runs exactly this on arbitrary bytes.
    static func decode<Body: Decodable>(_ type: Body.Type, from data: Data) throws(APIError) -> Body {
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
    /// The earliest and latest instants RFC 3339 can write: years 0000 to 9999, in UTC.
    static let representable: ClosedRange<Int64> = -62_167_219_200_000...253_402_300_799_999

    /// `2027-01-01T00:00:00.000Z`: UTC, milliseconds, exact (integer arithmetic, no rounding
    /// through a floating-point `Date`). Times outside years 0000–9999 are clamped to them.
    static func format(_ ms: Int64) -> String {
        let ms = min(max(ms, representable.lowerBound), representable.upperBound)
        let (days, msOfDay) = (ms.floorDivided(by: 86_400_000), ms.floorModulo(86_400_000))
        let (year, month, day) = CivilDate.fromDays(days)
        let time = "\((msOfDay / 3_600_000).zeroPadded(2)):\((msOfDay / 60_000 % 60).zeroPadded(2)):\((msOfDay / 1000 % 60).zeroPadded(2)).\((msOfDay % 1000).zeroPadded(3))"
        return "\(year.zeroPadded(4))-\(month.zeroPadded(2))-\(day.zeroPadded(2))T\(time)Z"
    }

    /// An RFC 3339 `date-time` (§5.6, what OpenAPI's `format: date-time` means), as Unix
    /// milliseconds: `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`, `T` and `Z` in either case,
    /// any offset up to ±23:59, any number of fraction digits (rounded to the millisecond) and
    /// a leap second (`23:59:60` UTC, counted as the first instant of the next day). Anything else,
    /// such as a date without a time or an offset without its colon, is `nil`; so is a time
    /// that falls outside years 0000–9999 in UTC, which the answers could not write.
    static func parse(_ text: String) -> Int64? {
        var scanner = DigitScanner(Array(text.utf8))
        guard let year = scanner.number(digits: 4), scanner.skip("-"),
            let month = scanner.number(digits: 2), scanner.skip("-"),
            let day = scanner.number(digits: 2), scanner.skip("T") || scanner.skip("t"),
            let hour = scanner.number(digits: 2), scanner.skip(":"),
            let minute = scanner.number(digits: 2), scanner.skip(":"),
            let second = scanner.number(digits: 2)
        else { return nil }
        var fractionMs: Int64 = 0
        if scanner.skip(".") {
            let digits = scanner.digits()
            guard !digits.isEmpty else { return nil }
            // Milliseconds from the first three digits, rounded half up by the fourth.
            let padded = (digits + [0, 0, 0]).prefix(4).map(Int64.init)
            fractionMs = padded[0] * 100 + padded[1] * 10 + padded[2] + (padded[3] >= 5 ? 1 : 0)
        }
        var offsetMinutes: Int64 = 0
        if scanner.skip("Z") || scanner.skip("z") {
            offsetMinutes = 0
        } else {
            let sign: Int64
            if scanner.skip("+") { sign = 1 } else if scanner.skip("-") { sign = -1 } else { return nil }
            guard let offsetHour = scanner.number(digits: 2), scanner.skip(":"), let offsetMinute = scanner.number(digits: 2),
                offsetHour <= 23, offsetMinute <= 59
            else { return nil }
            offsetMinutes = sign * (offsetHour * 60 + offsetMinute)
        }
        guard scanner.atEnd, (1...12).contains(month), day >= 1, day <= daysInMonth(year: year, month: month),
            hour <= 23, minute <= 59, second <= 59 || (second == 60 && isLastMinuteOfUTCDay(hour * 60 + minute - offsetMinutes))
        else { return nil }
        let days = daysFromCivil(year: year, month: month, day: day)
        let seconds = ((days * 24 + hour) * 60 + minute) * 60 + second - offsetMinutes * 60
        let ms = seconds * 1000 + fractionMs
        // An offset can carry 0000-01-01 or 9999-12-31 out of the years RFC 3339 can write in UTC.
        return representable.contains(ms) ? ms : nil
    }

    /// Leap seconds are inserted at 23:59:60 UTC only.
    private static func isLastMinuteOfUTCDay(_ minuteOfDay: Int64) -> Bool {
        ((minuteOfDay % 1440) + 1440) % 1440 == 1439
    }

    private static func daysInMonth(year: Int64, month: Int64) -> Int64 {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's `days_from_civil`).
    private static func daysFromCivil(year: Int64, month: Int64, day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    /// Reads ASCII digits and punctuation from the front of a byte string.
    private struct DigitScanner {
        let bytes: [UInt8]
        var index = 0

        init(_ bytes: [UInt8]) { self.bytes = bytes }

        var atEnd: Bool { index == bytes.count }

        mutating func skip(_ character: Unicode.Scalar) -> Bool {
            guard index < bytes.count, bytes[index] == UInt8(ascii: character) else { return false }
            index += 1
            return true
        }

        /// Exactly `digits` digits as a number.
        mutating func number(digits: Int) -> Int64? {
            guard index + digits <= bytes.count else { return nil }
            var value: Int64 = 0
            for byte in bytes[index..<index + digits] {
                guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) else { return nil }
                value = value * 10 + Int64(byte - UInt8(ascii: "0"))
            }
            index += digits
            return value
        }

        /// The run of digits here, each as its value.
        mutating func digits() -> [UInt8] {
            var values: [UInt8] = []
            while index < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index]) {
                values.append(bytes[index] - UInt8(ascii: "0"))
                index += 1
            }
            return values
        }
    }
}
