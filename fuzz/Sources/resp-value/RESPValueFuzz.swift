import FuzzSupport
import GatehouseWire
import NIOCore

/// RESP2/RESP3 replies as the client (`GatehouseClient`) reads them from a server.
///
/// Properties: a parse either throws or consumes a whole reply; a strict prefix of a whole
/// reply is "need more bytes"; a reply written again as RESP parses back to the same value.

let parser = RESPValueParser()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    guard let start else { return 0 }
    var buffer = fuzzBuffer(start, count)
    var replies = 0
    while buffer.readableBytes > 0, replies < 64 {
        let before = buffer
        let value: RESPValue?
        do {
            value = try parser.parse(&buffer)
        } catch {
            break
        }
        guard let value else {
            fuzzCheck(buffer.readerIndex == before.readerIndex, "an incomplete reply consumed bytes")
            break
        }
        let consumed = buffer.readerIndex - before.readerIndex
        fuzzCheck(consumed > 0, "a reply of zero bytes")
        for cut in Set([1, consumed / 2, consumed - 1]) where cut > 0 && cut < consumed {
            var prefix = before.getSlice(at: before.readerIndex, length: cut)!
            do {
                let partial = try parser.parse(&prefix)
                fuzzCheck(partial == nil, "a \(cut)-byte prefix of a \(consumed)-byte reply parsed as \(partial!)")
            } catch {
                fuzzCheck(false, "a \(cut)-byte prefix of a \(consumed)-byte reply threw \(error)")
            }
        }
        var encoded = ByteBuffer()
        write(value, to: &encoded)
        do {
            let again = try parser.parse(&encoded)
            fuzzCheck(again.map { same($0, value) } ?? false, "reply changed through writing it again: \(value) became \(String(describing: again))")
        } catch {
            fuzzCheck(false, "re-written reply \(value) failed: \(error)")
        }
        _ = value.fields
        _ = value.flag
        replies += 1
    }
    return 0
}

/// Equality with NaN equal to itself.
func same(_ a: RESPValue, _ b: RESPValue) -> Bool {
    switch (a, b) {
    case (.double(let x), .double(let y)): return x == y || (x.isNaN && y.isNaN)
    case (.array(let x), .array(let y)), (.set(let x), .set(let y)), (.push(let x), .push(let y)):
        return x.count == y.count && zip(x, y).allSatisfy { same($0, $1) }
    case (.map(let x), .map(let y)):
        return x.count == y.count && zip(x, y).allSatisfy { same($0.key, $1.key) && same($0.value, $1.value) }
    default: return a == b
    }
}

func write(_ value: RESPValue, to buffer: inout ByteBuffer) {
    switch value {
    case .simpleString(let text): buffer.writeString("+\(text)\r\n")
    case .error(let text): buffer.writeString("!\(text.utf8.count)\r\n\(text)\r\n")  // a blob error: the text may hold CR LF
    case .integer(let number): buffer.writeString(":\(number)\r\n")
    case .bulkString(let text): buffer.writeString("$\(text.utf8.count)\r\n\(text)\r\n")
    case .null: buffer.writeString("_\r\n")
    case .boolean(let flag): buffer.writeString(flag ? "#t\r\n" : "#f\r\n")
    case .double(let number): buffer.writeString(",\(number)\r\n")
    case .array(let items), .set(let items), .push(let items):
        let marker = if case .set = value { "~" } else if case .push = value { ">" } else { "*" }
        buffer.writeString("\(marker)\(items.count)\r\n")
        for item in items { write(item, to: &buffer) }
    case .map(let pairs):
        buffer.writeString("%\(pairs.count)\r\n")
        for pair in pairs {
            write(pair.key, to: &buffer)
            write(pair.value, to: &buffer)
        }
    }
}

/// `main`, as SwiftPM links it: libFuzzer's driver with `fuzzOne` as the target.
@_cdecl("resp_value_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    runFuzzer(argc, argv, fuzzOne)
}
