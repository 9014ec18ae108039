import FuzzSupport
import GatehouseWire
import NIOCore

/// RESP commands as a client connection delivers them: array and inline frames, pipelined,
/// parsed with the server's limits and with tiny ones (so every limit check is reached),
/// then each command read as the server reads VERIFY and THROTTLE.
///
/// Properties: a parse either throws or consumes a whole command (never a partial one); a
/// command parsed whole parses to nothing from any shorter prefix; arguments encoded again
/// as a RESP array parse back to the same arguments.

let parsers = [
    RESPCommandParser(limits: .default),
    RESPCommandParser(limits: RESPLimits(maxArguments: 6, maxBulkBytes: 24, maxInlineBytes: 32, maxFrameBytes: 96)),
]

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    guard let start else { return 0 }
    for parser in parsers {
        var buffer = fuzzBuffer(start, count)
        var ranges = RESPArgumentRanges()
        var commands = 0
        while buffer.readableBytes > 0, commands < 64 {
            let before = buffer
            let complete: Bool
            do {
                complete = try parser.parse(&buffer, into: &ranges)
            } catch {
                fuzzCheck(!error.message.isEmpty, "a protocol error without a message")
                break
            }
            guard complete else {
                fuzzCheck(buffer.readerIndex == before.readerIndex, "an incomplete command consumed bytes")
                break
            }
            let consumed = buffer.readerIndex - before.readerIndex
            fuzzCheck(consumed > 0, "a command of zero bytes")
            let command = RESPCommandView(buffer: before, ranges: ranges)
            checkCommand(command, consumed: consumed, frame: before, parser: parser)
            commands += 1
        }
    }
    return 0
}

func checkCommand(_ command: RESPCommandView, consumed: Int, frame: ByteBuffer, parser: RESPCommandParser) {
    var arguments: [ByteBuffer] = []
    for index in 0..<command.count {
        let range = command.ranges[index]
        fuzzCheck(range.lowerBound >= frame.readerIndex && range.upperBound <= frame.readerIndex + consumed, "argument outside its command")
        arguments.append(command.argument(index))
        _ = command.decimalValue(index)
        _ = command.string(index)
    }
    // Every strict prefix of a whole command is "need more bytes", never an error or a command.
    for cut in Set([0, consumed / 2, consumed - 1]) where cut > 0 && cut < consumed {
        var prefix = frame.getSlice(at: frame.readerIndex, length: cut)!
        var ranges = RESPArgumentRanges()
        do {
            let complete = try parser.parse(&prefix, into: &ranges)
            // An inline line ends at its LF: a prefix can never hold a whole one. An empty
            // array (`*0`, `*-1`) is a whole command in fewer bytes than itself only if the
            // prefix stops after its CRLF, which a strict prefix cannot.
            fuzzCheck(!complete, "a \(cut)-byte prefix of a \(consumed)-byte command parsed as a command")
        } catch {
            fuzzCheck(false, "a \(cut)-byte prefix of a \(consumed)-byte command threw \(error)")
        }
    }
    // Round trip through the array form (when it fits the limits it was parsed under).
    var encoded = ByteBuffer()
    encoded.writeString("*\(arguments.count)\r\n")
    for argument in arguments {
        encoded.writeString("$\(argument.readableBytes)\r\n")
        encoded.writeImmutableBuffer(argument)
        encoded.writeString("\r\n")
    }
    if arguments.count <= parser.limits.maxArguments, encoded.readableBytes <= parser.limits.maxFrameBytes,
        arguments.allSatisfy({ $0.readableBytes <= parser.limits.maxBulkBytes })
    {
        do {
            let again = try parser.parse(&encoded)
            fuzzCheck(again?.arguments == arguments, "arguments changed through the array form")
            fuzzCheck(encoded.readableBytes == 0, "bytes left after re-encoded command")
        } catch {
            fuzzCheck(false, "re-encoded command failed: \(error)")
        }
    }
    // What the server does next with a command.
    guard command.count > 0 else { return }
    let name = command.withBytes(0) { GatehouseCommandName.identify($0) }
    switch name {
    case .verify:
        if let verify = try? VerifyArguments(parsing: command) {
            fuzzCheck(verify.scopes.count <= VerifyArguments.maxScopes, "too many scopes accepted")
            fuzzCheck(verify.cost >= 0 && verify.cost <= VerifyArguments.maxCost, "cost out of range")
        }
    case .throttle:
        if let throttle = try? ThrottleArguments(parsing: command) {
            fuzzCheck(throttle.limit >= 1 && throttle.windowMs >= 1 && throttle.windowMs <= ThrottleArguments.maxWindowMs, "throttle out of range")
        }
    default:
        _ = try? VerifyArguments(parsing: command)
        _ = try? ThrottleArguments(parsing: command)
    }
}

/// `main`, as SwiftPM links it: libFuzzer's driver with `fuzzOne` as the target.
@_cdecl("resp_command_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    runFuzzer(argc, argv, fuzzOne)
}
