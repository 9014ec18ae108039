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
    /// Access lines of VERIFY, per `access_log.resp` (off by default: this is the hot path).
    var accessLog: AccessLog
    var nodeID: String
    var connections: ConnectionRegistry
}

/// One RESP connection: parses commands straight from the bytes received, runs them in
/// arrival order and writes all replies of one read in one flush, which is what makes
/// pipelining cheap.
///
/// Parsing happens here rather than in a `ByteToMessageDecoder` so that a command costs no
/// allocation and no pipeline hop: arguments are ranges of the receive buffer, kept in one
/// reused `RESPArgumentRanges`.
///
/// When to read, pause and close is decided by `RESPConnectionStateMachine`; this handler
/// only performs its actions. The channel's `autoRead` is off, so nothing is read unless the
/// machine says `.read`.
final class RESPConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let shared: RESPServerContext
    private let parser: RESPCommandParser
    private var version = RESPVersion.v2
    private var authenticated: Bool
    /// Replies not yet flushed; `nil` once flushed, so a write never copies a buffer the
    /// channel still holds.
    private var replies: ByteBuffer?
    /// The size of the last flush, so the next reply buffer starts big enough.
    private var replyCapacity = 512
    /// The start of a command whose bytes have not all arrived.
    private var pending: ByteBuffer?
    private var ranges = RESPArgumentRanges()
    /// Reused for the scopes of every VERIFY, so parsing one allocates no array.
    private var scopeStorage: [String] = []
    private var closing = false
    private var verifyCount: UInt64 = 0
    /// The clock as read for the commands of the current read: once per read, not per command.
    private var readTimeMs: Int64?
    private let connectionID: Int
    /// The peer's address as the failed-attempt throttle counts it: a wrong `AUTH` token is a
    /// failed attempt of this source, and a throttled source's tokens are not compared.
    private let peer: SourceIdentity?
    /// Counts not yet added to the node's metrics: published once per read, not per command,
    /// so pipelined commands do not each touch counters shared by every event loop.
    private var uncounted = UncountedCommands()
    private var machine: RESPConnectionStateMachine
    private var started = false
    /// Set by a command whose reply must be the connection's last.
    private var closeAfterReply: ConnectionCloseReason?
    private var timer = DeadlineTimer()
    private var accessSampler: AccessLogSampler
    /// Whether VERIFY writes its debug line: read once, as the node's log level is fixed.
    private let debugLines: Bool
    /// The peer's address as text, for access lines; read once the first line needs it.
    private var peerIP: String??

    /// `openedAt` is the channel's event-loop clock (`EventLoop.now`) in nanoseconds.
    init(
        _ shared: RESPServerContext, limits: RESPLimits, settings: RESPConnectionStateMachine.Settings,
        connectionID: Int, openedAt: Int64, peer: SourceIdentity?
    ) {
        self.shared = shared
        self.parser = RESPCommandParser(limits: limits)
        self.connectionID = connectionID
        self.peer = peer
        authenticated = !shared.authenticator.isRequired
        machine = RESPConnectionStateMachine(settings: settings, openedAt: openedAt)
        accessSampler = AccessLogSampler(shared.accessLog.settings.resp, every: shared.accessLog.settings.sampleEvery)
        debugLines = shared.logger.logLevel <= .debug
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { start(context: context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        start(context: context)
        context.fireChannelActive()
    }

    private func start(context: ChannelHandlerContext) {
        guard !started else { return }
        started = true
        perform(machine.opened(), context: context)
        armTimer(context: context)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !closing else { return }
        var buffer = unwrapInboundIn(data)
        if var earlier = pending.take() {
            earlier.writeBuffer(&buffer)
            buffer = earlier
        }
        var out = replies.take() ?? context.channel.allocator.buffer(capacity: replyCapacity)
        readTimeMs = nil
        var completed = false
        defer { replies = out }
        while !closing {
            let unparsed = buffer
            do throws(RESPProtocolError) {
                guard try parser.parse(&buffer, into: &ranges) else { break }
            } catch {
                refuse(error, replies: &out, context: context)
                return
            }
            completed = true
            guard !ranges.isEmpty else { continue }
            uncounted.commands += 1
            let command = RESPCommandView(buffer: unparsed, ranges: ranges)
            do throws(CommandError) {
                try run(command, replies: &out, context: context)
            } catch {
                count(error.code)
                out.writeRESPError(error.description)
                if error.code == .wrongPass, case .close(let reason) = machine.authFailed() {
                    closeAfterReply = reason
                }
            }
            if let reason = closeAfterReply {
                close(reason, replies: &out, context: context)
                return
            }
        }
        if buffer.readableBytes > 0 && !closing {
            buffer.discardReadBytes()
            pending = buffer
        }
        // The timer is re-armed in `channelReadComplete`, which follows every read.
        machine.bytesRead(partialCommand: pending != nil, completedCommands: completed, at: now(context))
    }

    private func run(_ command: RESPCommandView, replies: inout ByteBuffer, context: ChannelHandlerContext) throws(CommandError) {
        let known = command.withBytes(0) { GatehouseCommandName.identify($0) }
        if !authenticated && known != .auth && known != .hello && known != .quit {
            throw CommandError(.noAuth, "Authentication required; send AUTH <gateway token> first")
        }
        switch known {
        case .verify:
            try verify(command, replies: &replies, context: context)
        case .throttle:
            let arguments = try ThrottleArguments(parsing: command)
            let answer = shared.service.throttle(arguments.bucket, limit: arguments.limit, windowMs: arguments.windowMs, cost: arguments.cost)
            (answer.allowed ? shared.metrics.throttleAllowed : shared.metrics.throttleRefused).increment()
            replies.writeThrottleAnswer(answer, version)
        case .ping:
            guard command.count <= 2 else { throw CommandError(.wrongArguments, "usage: PING [message]") }
            if command.count == 2 {
                replies.writeRESPBulkString(bytes: command.argument(1))
            } else {
                replies.writeRESPSimpleString("PONG")
            }
        case .hello:
            try hello(command, replies: &replies, context: context)
        case .auth:
            guard command.count == 2 || command.count == 3 else {
                throw CommandError(.wrongArguments, "usage: AUTH token (or AUTH username token)")
            }
            try authenticate(command.argument(command.count - 1), context: context)
            replies.writeRESPSimpleString("OK")
        case .info:
            replies.writeRESPBulkString(info())
        case .quit:
            replies.writeRESPSimpleString("OK")
            machine.closed()
            closing = true
            sendAll(&replies, context: context)
            context.close(promise: nil)
        case .command:
            // Clients ask `COMMAND DOCS` on connect for hints; an empty answer is harmless.
            if command.count >= 2, command.argument(1, equalsIgnoringASCIICase: "COUNT") {
                replies.writeRESPInteger(Int64(GatehouseCommandName.allCases.count))
            } else {
                replies.writeRESPArrayHeader(count: 0)
            }
        case .client:
            // CLIENT SETNAME / SETINFO and friends: accepted, nothing to do.
            replies.writeRESPSimpleString("OK")
        case .select:
            guard command.count == 2, command.decimalValue(1) == 0 else {
                throw CommandError(.generic, "Gatehouse has only database 0")
            }
            replies.writeRESPSimpleString("OK")
        case .config:
            // `CONFIG GET name` from benchmarking tools: every setting reads as empty.
            guard command.count == 3, command.argument(1, equalsIgnoringASCIICase: "GET") else {
                throw CommandError(.generic, "CONFIG supports only GET; Gatehouse is configured by cluster.yaml")
            }
            replies.writeRESPArrayHeader(count: 2)
            replies.writeRESPBulkString(bytes: command.argument(2))
            replies.writeRESPBulkString("")
        case nil:
            shared.metrics.countRESPError(.unknownCommand)
            replies.writeRESPError("ERR unknown command; Gatehouse understands VERIFY, THROTTLE, PING, HELLO, AUTH, INFO, QUIT")
        }
    }

    private func verify(_ command: RESPCommandView, replies: inout ByteBuffer, context: ChannelHandlerContext) throws(CommandError) {
        var storage: [String] = []
        swap(&storage, &scopeStorage)
        let parsed = try VerifyArguments(parsing: command, scopeStorage: consume storage)
        var request = VerifyRequest(scopes: parsed.scopes, cost: parsed.cost)
        // Handed back before `parsed` and `request` go, so it is unique again by the next verify.
        defer { scopeStorage = request.scopes }
        if let address = parsed.sourceAddress {
            request.source = address.withUnsafeReadableBytes { SourceAddress.identity($0) }
        }
        verifyCount &+= 1
        // Timing every verify would cost more than some verifies; one in 16 is plenty for a histogram.
        let sampled = verifyCount & 15 == 0
        let accessLine = accessSampler.next()
        // Access and debug lines name the key and its owner, whatever the reply carries.
        request.includesRecord = !parsed.fields.isDisjoint(with: .record) || accessLine || debugLines
        let start = sampled || accessLine ? ContinuousClock.now : nil
        let nowMs = readTimeMs ?? shared.service.currentTimeMs()
        readTimeMs = nowMs
        let answer = parsed.key.withUnsafeReadableBytes { shared.service.verify(key: $0, request, nowMs: nowMs) }
        let took = start.map { ContinuousClock.now - $0 }
        if sampled, let took { shared.metrics.verifyDuration.record(took) }
        uncounted.countVerify(answer.code)
        // The request's id: the caller's RID (replaced when not visible ASCII), else one made
        // only when something needs it — an event, a line, or a reply whose FIELDS names it.
        // Events, lines and the reply then all hold the same id. (Made inline, not by a local
        // function capturing `requestID`: that cost the hot path, see 283f083.)
        var requestID: RequestID?
        if let given = parsed.requestID {
            requestID = RequestID(validating: given) ?? .generate()
        } else if parsed.fieldsListed && parsed.fields.contains(.requestID) {
            requestID = .generate()
        }
        // A refusal may be a security event (valid answers never get here).
        if answer.code != .valid {
            shared.service.events.verified(answer.code, keyID: answer.keyID, source: request.source, nowMs: nowMs) {
                let id = requestID ?? .generate()
                requestID = id
                return .init(sourceIP: parsed.sourceAddress.map { String(buffer: $0) } ?? peerAddress(context), requestID: id.value)
            }
        }
        if accessLine || debugLines {
            let id = requestID ?? .generate()
            requestID = id
            if debugLines {
                shared.logger.debug("verify", metadata: ["request_id": "\(id)", "code": "\(answer.code.rawValue)", "key_id": "\(answer.keyID ?? "")"])
            }
            if accessLine {
                shared.accessLog.write(AccessLog.Entry(
                    requestID: id, keyID: answer.keyID, owner: answer.owner,
                    sourceIP: parsed.sourceAddress.map { String(buffer: $0) } ?? peerAddress(context),
                    command: "VERIFY", code: answer.code.rawValue, durationNanoseconds: took?.nanoseconds ?? 0))
            }
        }
        let repliedID = parsed.fieldsListed && !parsed.fields.contains(.requestID) ? nil : requestID
        replies.writeVerifyAnswer(answer, version, fields: parsed.fields, requestID: repliedID?.value)
    }

    /// The connection's peer as text, read from the channel on the first access line.
    private func peerAddress(_ context: ChannelHandlerContext) -> String? {
        if let known = peerIP { return known }
        let address = context.channel.remoteAddress?.ipAddress
        peerIP = .some(address)
        return address
    }

    /// Answers a stream that is not RESP (or over the limits) once, then closes it: after
    /// such bytes the connection cannot be trusted to be in step.
    private func refuse(_ error: RESPProtocolError, replies: inout ByteBuffer, context: ChannelHandlerContext) {
        shared.metrics.countRESPError(error.code == .tooLarge ? .tooLarge : .malformed)
        machine.closed()
        closing = true
        pending = nil
        replies.writeRESPError(error.replyLine)
        sendAll(&replies, context: context)
        context.close(promise: nil)
    }

    private func authenticate(_ token: ByteBuffer, context: ChannelHandlerContext) throws(CommandError) {
        switch shared.service.checkCredential(from: peer, { shared.authenticator.acceptsGateway(token.readableBytesView) }) {
        case .accepted:
            break
        case .refused:
            shared.service.events.credentialRefused(.gatewayAuthFailed, origin: .init(sourceIP: peerAddress(context), requestID: RequestID.generate().value))
            throw CommandError(.wrongPass, "invalid token")
        case .sourceThrottled:
            shared.service.events.sourceThrottled(peer) { .init(sourceIP: peerAddress(context), requestID: RequestID.generate().value) }
            let seconds = (shared.service.failedAttemptWindowMs + 999) / 1000
            throw CommandError(.wrongPass, "too many failed attempts from this address; retry after \(seconds) s with a valid token")
        }
        guard !authenticated else { return }
        // Only now does the connection take one of the listener's slots.
        guard shared.connections.authenticate(context.channel) else {
            closeAfterReply = .listenerLimit
            shared.metrics.countRESPError(.connectionLimit)
            throw CommandError(.generic, "max number of clients reached")
        }
        authenticated = true
        machine.authSucceeded()
    }

    private func hello(_ command: RESPCommandView, replies: inout ByteBuffer, context: ChannelHandlerContext) throws(CommandError) {
        var index = 1
        var requested = version
        if command.count > 1 {
            guard let number = command.decimalValue(1), let chosen = RESPVersion(rawValue: Int(number)) else {
                throw CommandError(.noProto, "unsupported protocol version; use HELLO 2 or HELLO 3")
            }
            requested = chosen
            index = 2
        }
        while index < command.count {
            if command.argument(index, equalsIgnoringASCIICase: "AUTH"), index + 2 < command.count {
                try authenticate(command.argument(index + 2), context: context)
                index += 3
            } else if command.argument(index, equalsIgnoringASCIICase: "SETNAME"), index + 1 < command.count {
                index += 2
            } else {
                throw CommandError(.wrongArguments, "usage: HELLO [2|3] [AUTH username token] [SETNAME name]")
            }
        }
        guard authenticated else {
            throw CommandError(.noAuth, "Authentication required; send AUTH <gateway token> or HELLO 3 AUTH default <token>")
        }
        version = requested
        replies.writeRESPMapHeader(count: 8, version)
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
        replies.writeRESPBulkString(GatehouseProtocolVersion.fieldName)
        replies.writeRESPInteger(Int64(GatehouseProtocolVersion.current))
    }

    private func info() -> String {
        let lines = [
            "# Server",
            "gatehouse_version:\(GatehouseVersion.current)",
            "\(GatehouseProtocolVersion.fieldName):\(GatehouseProtocolVersion.current)",
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
        if let out = replies.take() {
            send(out, context: context)
        } else {
            publishCounts()
        }
        guard !closing else { return }
        perform(machine.readComplete(output(context), at: now(context)), context: context)
        armTimer(context: context)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if !closing {
            perform(machine.writabilityChanged(output(context), at: now(context)), context: context)
            armTimer(context: context)
        }
        context.fireChannelWritabilityChanged()
    }

    private func publishCounts() {
        guard uncounted.any else { return }
        shared.metrics.respCommands.increment(by: uncounted.commands)
        for ordinal in 0..<UncountedCommands.verifyCodes where uncounted.verifies[ordinal] > 0 {
            shared.metrics.countVerify(ordinal: ordinal, by: uncounted.verifies[ordinal])
        }
        uncounted = UncountedCommands()
    }

    func channelInactive(context: ChannelHandlerContext) {
        if let partial = pending.take(), partial.readableBytes > 0 {
            // The peer hung up in the middle of a command.
            shared.metrics.countRESPError(.truncated)
        }
        machine.closed()
        closing = true
        timer.cancel()
        publishCounts()
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer.cancel()
    }

    /// Sends `out` when it holds anything.
    private func send(_ out: ByteBuffer, context: ChannelHandlerContext) {
        publishCounts()
        guard out.readableBytes > 0 else { return }
        replyCapacity = min(max(512, out.readableBytes), 64 * 1024)
        context.writeAndFlush(wrapOutboundOut(out), promise: nil)
    }

    /// Sends what `out` holds now and marks it read, so nothing is sent twice.
    private func sendAll(_ out: inout ByteBuffer, context: ChannelHandlerContext) {
        send(out, context: context)
        out.moveReaderIndex(to: out.writerIndex)
    }

    /// Closes for `reason` after sending the replies so far (the last one says why).
    private func close(_ reason: ConnectionCloseReason, replies: inout ByteBuffer, context: ChannelHandlerContext) {
        machine.closed()
        closing = true
        pending = nil
        shared.metrics.countClose(.resp, reason)
        sendAll(&replies, context: context)
        context.close(promise: nil)
    }

    private func perform(_ action: RESPConnectionStateMachine.Action, context: ChannelHandlerContext) {
        switch action {
        case .read:
            context.read()
        case .none:
            break
        case .close(let reason):
            closing = true
            pending = nil
            replies = nil
            timer.cancel()
            shared.metrics.countClose(.resp, reason)
            context.close(promise: nil)
        }
    }

    /// The output side for the machine. Queued bytes are asked of the channel only when it
    /// is not writable: while it is, they are below the high-water mark (the channel's own
    /// water mark is set to it), and the hot path skips the option lookup.
    private func output(_ context: ChannelHandlerContext) -> RESPConnectionStateMachine.Output {
        let channel = context.channel
        guard !channel.isWritable else { return .drained }
        let queued = (try? channel.syncOptions?.getOption(.bufferedWritableBytes)) ?? 0
        return .init(isWritable: false, pendingBytes: queued)
    }

    private func now(_ context: ChannelHandlerContext) -> Int64 {
        DeadlineTimer.now(context.eventLoop)
    }

    private func armTimer(context: ChannelHandlerContext) {
        timer.arm(at: machine.nextDeadline, on: context.eventLoop) { [self] in
            timer.fired()
            guard !closing else { return }
            perform(machine.timerFired(at: now(context)), context: context)
            if !closing { armTimer(context: context) }
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        machine.closed()
        closing = true
        timer.cancel()
        context.close(promise: nil)
    }
}

/// Commands and verify decisions counted on a connection but not yet added to the node's
/// metrics. Fixed-size, so counting allocates nothing.
struct UncountedCommands {
    static let verifyCodes = VerifyCode.allCases.count
    var commands: Int64 = 0
    /// Indexed by `VerifyCode.ordinal`; room for more codes than there are.
    var verifies = InlineArray<16, Int64>(repeating: 0)
    var any: Bool { commands > 0 }

    mutating func countVerify(_ code: VerifyCode) {
        verifies[code.ordinal] += 1
    }
}

/// Written to a connection over one of the listener's caps, which is then closed.
final class ConnectionLimitHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let reason: ConnectionCloseReason

    init(reason: ConnectionCloseReason) {
        self.reason = reason
    }

    func channelActive(context: ChannelHandlerContext) {
        var buffer = context.channel.allocator.buffer(capacity: 64)
        switch reason {
        case .sourceLimit: buffer.writeRESPError("ERR max number of clients from this address reached")
        case .unauthenticatedLimit: buffer.writeRESPError("ERR max number of unauthenticated clients reached; retry shortly")
        default: buffer.writeRESPError("ERR max number of clients reached")
        }
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(buffer)).whenComplete { _ in channel.close(promise: nil) }
        // The listener does not read on its own (`autoRead` is off): over TLS the refusal goes
        // out only once the handshake has read the client's side; what it decrypts is dropped.
        context.read()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {}
}
