import Foundation

/// Writes one log line's JSON object: keys sorted by their bytes, strings escaped as JSON
/// requires (`"`, `\`, control characters; `/` and non-ASCII text as they are), integers as
/// numbers — the bytes `JSONEncoder` with `.sortedKeys` and `.withoutEscapingSlashes` writes
/// for these values (a test holds them to it). `JSONEncoder` boxed every value through its
/// generic encoding containers: with lines written here a full RESP access log costs ~20 µs
/// per VERIFY instead of 41 µs (bench/README), and every forward-auth request pays a line with
/// the HTTP access log on (its default).
///
/// Writing only: nothing here reads JSON.
struct JSONLineWriter {
    /// Whether `a` sorts before `b` by their UTF-8 bytes (what `JSONEncoder` sorts keys by),
    /// compared in place: the generic `lexicographicallyPrecedes` over two `UTF8View`s was 4 %
    /// of a node writing full access lines in `perf`.
    static func precedes(_ a: String, _ b: String) -> Bool {
        var (a, b) = (a, b)
        return a.withUTF8 { left in
            b.withUTF8 { right in
                let shared = min(left.count, right.count)
                if shared > 0, let l = left.baseAddress, let r = right.baseAddress {
                    let order = memcmp(l, r, shared)
                    if order != 0 { return order < 0 }
                }
                return left.count < right.count
            }
        }
    }

    /// A value of a log line.
    enum Value {
        case text(String)
        case number(Int64)
        case list([Value])
        case object([(key: String, value: Value)])
    }

    private(set) var bytes: [UInt8] = []

    init(capacity: Int = 512) {
        bytes.reserveCapacity(capacity)
    }

    /// An object whose fields are written in key order (by bytes).
    mutating func writeObject(_ fields: [(key: String, value: Value)]) {
        bytes.append(UInt8(ascii: "{"))
        // Positions are sorted, not the fields: moving a field moved its string and value.
        let keys: [String] = fields.map { $0.key }
        let order: [Int] = keys.indices.sorted { (left: Int, right: Int) -> Bool in Self.precedes(keys[left], keys[right]) }
        for (written, index) in order.enumerated() {
            if written > 0 { bytes.append(UInt8(ascii: ",")) }
            writeString(fields[index].key)
            bytes.append(UInt8(ascii: ":"))
            write(fields[index].value)
        }
        bytes.append(UInt8(ascii: "}"))
    }

    mutating func write(_ value: Value) {
        switch value {
        case .text(let text):
            writeString(text)
        case .number(let number):
            bytes.append(contentsOf: String(number).utf8)
        case .list(let items):
            bytes.append(UInt8(ascii: "["))
            for (index, item) in items.enumerated() {
                if index > 0 { bytes.append(UInt8(ascii: ",")) }
                write(item)
            }
            bytes.append(UInt8(ascii: "]"))
        case .object(let fields):
            writeObject(fields)
        }
    }

    private static let hexDigits = Array("0123456789abcdef".utf8)

    mutating func writeString(_ text: String) {
        var text = text
        bytes.append(UInt8(ascii: "\""))
        text.withUTF8 { utf8 in
            // Runs of bytes that need no escape are copied whole.
            var runStart = 0
            for (index, byte) in utf8.enumerated() where byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") {
                bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[runStart..<index]))
                appendEscaped(byte)
                runStart = index + 1
            }
            bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[runStart...]))
        }
        bytes.append(UInt8(ascii: "\""))
    }

    private mutating func appendEscaped(_ byte: UInt8) {
        switch byte {
        case UInt8(ascii: "\""): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\"")])
        case UInt8(ascii: "\\"): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
        case 0x0A: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
        case 0x0D: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
        case 0x09: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
        case 0x08: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "b")])
        case 0x0C: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "f")])
        default:
            bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0")])
            bytes.append(Self.hexDigits[Int(byte >> 4)])
            bytes.append(Self.hexDigits[Int(byte & 0x0F)])
        }
    }
}

/// The same value through `JSONEncoder`, for answers encoded with the rest of a body (a page
/// of `GET /v1/events`).
extension JSONLineWriter.Value: Encodable {
    func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .text(let text): try container.encode(text)
        case .number(let number): try container.encode(number)
        case .list(let items): try container.encode(items)
        case .object(let fields): try container.encode(Dictionary(fields.map { ($0.key, $0.value) }) { $1 })
        }
    }
}
