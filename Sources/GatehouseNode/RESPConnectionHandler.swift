import GatehouseCore
import GatehouseWire
import Logging
import NIOCore

/// What every RESP connection of a node shares.
struct RESPServerContext: Sendable {
    var service: KeyService
    var metrics: NodeMetrics
    var authenticator: GatewayAuthenticator
    var logger: Logger
    var nodeID: String
    var connections: ConnectionRegistry
}

/// One RESP connection: runs commands in arrival order and writes all replies of one read
/// in one flush, which is what makes pipelining cheap.
final class RESPConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = RESPCommand
    typealias OutboundOut = ByteBuffer

    private let shared: RESPServerContext
    private var version = RESPVersion.v2
    private var authenticated: Bool
    private var replies: ByteBuffer
    private var closing = false
    private var verifyCount: UInt64 = 0
    private let connectionID: Int
    /// Counts not yet added to the node's metrics: published once per read, not per command,
    /// so pipelined commands do not each touch counters shared by every event loop.
    private var uncountedCommands: Int64 = 0
    private var uncountedVerifies = [Int64](repeating: 0, count: VerifyCode.allCases.count)
    private var verifiesUncounted = false

    init(_ shared: RESPServerContext, connectionID: Int) {
        self.shared = shared
        self.connectionID = connectionID
        authenticated = !shared.authenticator.isRequired
        replies = ByteBufferAllocator().buffer(capacity: 512)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !closing else { return }
        let command = unwrapInboundIn(data)
        guard let name = command.name else { return }
        uncountedCommands += 1
        do throws(CommandError) {
            try run(command, name: name, context: context)
        } catch {
            count(error.code)
            replies.writeRESPError(error.description)
        }
    }

    private func run(_ command: RESPCommand, name: ByteBuffer, context: ChannelHandlerContext) throws(CommandError) {
        let known = GatehouseCommandName.identify(name)
        if !authenticated && known != .auth && known != .hello && known != .quit {
            throw CommandError(.noAuth, "Authentication required; send AUTH <gateway token> first")
        }
        switch known {
        case .verify:
            try verify(command.arguments)
        case .throttle:
            let arguments = try ThrottleArguments(parsing: command.arguments)
            let answer = shared.service.throttle(arguments.bucket, limit: arguments.limit, windowMs: arguments.windowMs, cost: arguments.cost)
            (answer.allowed ? shared.metrics.throttleAllowed : shared.metrics.throttleRefused).increment()
            replies.writeThrottleAnswer(answer, version)
        case .ping:
            guard command.arguments.count <= 2 else { throw CommandError(.wrongArguments, "usage: PING [message]") }
            if command.arguments.count == 2 {
                replies.writeRESPBulkString(bytes: command.arguments[1])
            } else {
                replies.writeRESPSimpleString("PONG")
            }
        case .hello:
            try hello(command.arguments)
        case .auth:
            guard command.arguments.count == 2 || command.arguments.count == 3 else {
                throw CommandError(.wrongArguments, "usage: AUTH token (or AUTH username token)")
            }
            try authenticate(command.arguments.last!)
            replies.writeRESPSimpleString("OK")
        case .info:
            replies.writeRESPBulkString(info())
        case .quit:
            replies.writeRESPSimpleString("OK")
            closing = true
            flush(context: context)
            context.close(promise: nil)
        case .command:
            // Clients ask `COMMAND DOCS` on connect for hints; an empty answer is harmless.
            if command.arguments.count >= 2, command.arguments[1].equalsIgnoringASCIICase("COUNT") {
                replies.writeRESPInteger(Int64(GatehouseCommandName.allCases.count))
            } else {
                replies.writeRESPArrayHeader(count: 0)
            }
        case .client:
            // CLIENT SETNAME / SETINFO and friends: accepted, nothing to do.
            replies.writeRESPSimpleString("OK")
        case .select:
            guard command.arguments.count == 2, command.arguments[1].decimalValue() == 0 else {
                throw CommandError(.generic, "Gatehouse has only database 0")
            }
            replies.writeRESPSimpleString("OK")
        case .config:
            // `CONFIG GET name` from benchmarking tools: every setting reads as empty.
            guard command.arguments.count == 3, command.arguments[1].equalsIgnoringASCIICase("GET") else {
                throw CommandError(.generic, "CONFIG supports only GET; Gatehouse is configured by cluster.yaml")
            }
            replies.writeRESPArrayHeader(count: 2)
            replies.writeRESPBulkString(bytes: command.arguments[2])
            replies.writeRESPBulkString("")
        case nil:
            shared.metrics.countRESPError(.unknownCommand)
            replies.writeRESPError("ERR unknown command; Gatehouse understands VERIFY, THROTTLE, PING, HELLO, AUTH, INFO, QUIT")
        }
    }

    private func verify(_ arguments: [ByteBuffer]) throws(CommandError) {
        let parsed = try VerifyArguments(parsing: arguments)
        var request = VerifyRequest(scopes: parsed.scopes, cost: parsed.cost)
        if let address = parsed.sourceAddress {
            request.source = address.withUnsafeReadableBytes { SourceAddress.identity($0) }
        }
        verifyCount &+= 1
        // Timing every verify would cost more than some verifies; one in 16 is plenty for a histogram.
        let sampled = verifyCount & 15 == 0
        let start = sampled ? ContinuousClock.now : nil
        let answer = parsed.key.withUnsafeReadableBytes { shared.service.verify(key: $0, request) }
        if let start { shared.metrics.verifyDuration.record(ContinuousClock.now - start) }
        uncountedVerifies[answer.code.ordinal] += 1
        verifiesUncounted = true
        if let requestID = parsed.requestID, shared.logger.logLevel <= .debug {
            shared.logger.debug("verify", metadata: ["request_id": "\(requestID)", "code": "\(answer.code.rawValue)", "key_id": "\(answer.keyID ?? "")"])
        }
        replies.writeVerifyAnswer(answer, version)
    }

    private func authenticate(_ token: ByteBuffer) throws(CommandError) {
        guard shared.authenticator.acceptsGateway(token.readableBytesView) else {
            throw CommandError(.wrongPass, "invalid token")
        }
        authenticated = true
    }

    private func hello(_ arguments: [ByteBuffer]) throws(CommandError) {
        var index = 1
        var requested = version
        if arguments.count > 1 {
            guard let number = arguments[1].decimalValue(), let chosen = RESPVersion(rawValue: Int(number)) else {
                throw CommandError(.noProto, "unsupported protocol version; use HELLO 2 or HELLO 3")
            }
            requested = chosen
            index = 2
        }
        while index < arguments.count {
            if arguments[index].equalsIgnoringASCIICase("AUTH"), index + 2 < arguments.count {
                try authenticate(arguments[index + 2])
                index += 3
            } else if arguments[index].equalsIgnoringASCIICase("SETNAME"), index + 1 < arguments.count {
                index += 2
            } else {
                throw CommandError(.wrongArguments, "usage: HELLO [2|3] [AUTH username token] [SETNAME name]")
            }
        }
        guard authenticated else {
            throw CommandError(.noAuth, "Authentication required; send AUTH <gateway token> or HELLO 3 AUTH default <token>")
        }
        version = requested
        replies.writeRESPMapHeader(count: 7, version)
        replies.writeRESPBulkString("server")
        replies.writeRESPBulkString("gatehouse")
        replies.writeRESPBulkString("version")
        replies.writeRESPBulkString(GatehouseVersion.current)
        replies.writeRESPBulkString("proto")
        replies.writeRESPInteger(Int64(version.rawValue))
        replies.writeRESPBulkString("id")
        replies.writeRESPInteger(Int64(connectionID))
        replies.writeRESPBulkString("mode")
        replies.writeRESPBulkString("standalone")
        replies.writeRESPBulkString("role")
        replies.writeRESPBulkString("master")
        replies.writeRESPBulkString("modules")
        replies.writeRESPArrayHeader(count: 0)
    }

    private func info() -> String {
        let lines = [
            "# Server",
            "gatehouse_version:\(GatehouseVersion.current)",
            "node_id:\(shared.nodeID)",
            "# Clients",
            "connected_clients:\(shared.connections.count)",
            "# Keyspace",
            "keys:\(shared.service.keyCount)",
            "throttle_buckets:\(shared.service.throttleBucketCount)",
        ]
        return lines.joined(separator: "\r\n") + "\r\n"
    }

    private func count(_ code: CommandError.Code) {
        switch code {
        case .wrongArguments: shared.metrics.countRESPError(.wrongArguments)
        case .tooLarge: shared.metrics.countRESPError(.tooLarge)
        case .noAuth: shared.metrics.countRESPError(.noAuth)
        case .wrongPass: shared.metrics.countRESPError(.wrongPassword)
        case .noProto: shared.metrics.countRESPError(.noProto)
        default: shared.metrics.countRESPError(.wrongArguments)
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        flush(context: context)
    }

    private func publishCounts() {
        if uncountedCommands > 0 {
            shared.metrics.respCommands.increment(by: uncountedCommands)
            uncountedCommands = 0
        }
        guard verifiesUncounted else { return }
        for ordinal in uncountedVerifies.indices where uncountedVerifies[ordinal] > 0 {
            shared.metrics.countVerify(ordinal: ordinal, by: uncountedVerifies[ordinal])
            uncountedVerifies[ordinal] = 0
        }
        verifiesUncounted = false
    }

    func channelInactive(context: ChannelHandlerContext) {
        publishCounts()
        context.fireChannelInactive()
    }

    private func flush(context: ChannelHandlerContext) {
        publishCounts()
        guard replies.readableBytes > 0 else { return }
        context.writeAndFlush(wrapOutboundOut(replies), promise: nil)
        replies = context.channel.allocator.buffer(capacity: 512)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let protocolError = error as? RESPProtocolError {
            shared.metrics.countRESPError(protocolError.code == .tooLarge ? .tooLarge : (protocolError.message == RESPCommandDecoder.truncatedMessage ? .truncated : .malformed))
            if !closing {
                replies.writeRESPError(protocolError.replyLine)
                flush(context: context)
            }
        }
        closing = true
        context.close(promise: nil)
    }
}

/// Written to a connection over the node's connection limit, which is then closed.
final class ConnectionLimitHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    func channelActive(context: ChannelHandlerContext) {
        var buffer = context.channel.allocator.buffer(capacity: 64)
        buffer.writeRESPError("ERR max number of clients reached")
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(buffer)).whenComplete { _ in channel.close(promise: nil) }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {}
}
