import GatehouseCore
import GatehouseWire
import NIOCore
import NIOPosix

/// A pipelined RESP client for Gatehouse: many requests may be in flight on one
/// connection; replies come back in order.
public final class GatehouseClient: Sendable {
    private let channel: any Channel

    private init(channel: any Channel) {
        self.channel = channel
    }

    /// Connects, and authenticates when a gateway token is given. `protocolVersion` 3 asks
    /// for RESP3 maps (`HELLO 3`).
    public static func connect(
        host: String, port: Int, token: String? = nil, protocolVersion: Int = 2,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws -> GatehouseClient {
        let channel = try await ClientBootstrap(group: group)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(RESPReplyDecoder()))
                    try channel.pipeline.syncOperations.addHandler(PipelineHandler())
                }
            }
            .connect(host: host, port: port)
            .get()
        let client = GatehouseClient(channel: channel)
        do {
            if let token { try await client.expectOK(["AUTH", token]) }
            if protocolVersion != 2 { _ = try await client.send(["HELLO", String(protocolVersion)]) }
        } catch {
            try? await client.close()
            throw error
        }
        return client
    }

    /// Sends one command and waits for its reply; a RESP error reply is thrown.
    public func send(_ arguments: [String]) async throws -> RESPValue {
        let reply = try await sendRaw(Self.encode(arguments))
        if case .error(let line) = reply { throw GatehouseClientError.server(line) }
        return reply
    }

    /// Sends pre-encoded bytes (one or more commands) expecting exactly one reply.
    public func sendRaw(_ bytes: ByteBuffer) async throws -> RESPValue {
        let promise = channel.eventLoop.makePromise(of: RESPValue.self)
        channel.writeAndFlush((bytes, promise), promise: nil)
        return try await promise.futureResult.get()
    }

    /// Sends many commands in one write and returns their replies in order (errors included, not thrown).
    public func pipeline(_ commands: [[String]]) async throws -> [RESPValue] {
        let promises = commands.map { command -> EventLoopPromise<RESPValue> in
            let promise = channel.eventLoop.makePromise(of: RESPValue.self)
            channel.write((Self.encode(command), promise), promise: nil)
            return promise
        }
        channel.flush()
        var replies: [RESPValue] = []
        replies.reserveCapacity(promises.count)
        for promise in promises { replies.append(try await promise.futureResult.get()) }
        return replies
    }

    public func verify(_ key: String, scopes: [String] = [], cost: Int64? = nil, ip: String? = nil, requestID: String? = nil) async throws -> VerifyAnswer {
        let reply = try await send(Self.verifyCommand(key, scopes: scopes, cost: cost, ip: ip, requestID: requestID))
        guard let answer = VerifyAnswer(resp: reply) else { throw GatehouseClientError.unexpectedReply("not a VERIFY answer") }
        return answer
    }

    public static func verifyCommand(_ key: String, scopes: [String] = [], cost: Int64? = nil, ip: String? = nil, requestID: String? = nil) -> [String] {
        var command = ["VERIFY", key]
        for scope in scopes { command += ["SCOPE", scope] }
        if let cost { command += ["COST", String(cost)] }
        if let ip { command += ["IP", ip] }
        if let requestID { command += ["RID", requestID] }
        return command
    }

    public func throttle(_ bucket: String, limit: Int64, windowMs: Int64, cost: Int64 = 1) async throws -> ThrottleAnswer {
        let reply = try await send(["THROTTLE", bucket, String(limit), String(windowMs), "COST", String(cost)])
        guard let answer = ThrottleAnswer(resp: reply) else { throw GatehouseClientError.unexpectedReply("not a THROTTLE answer") }
        return answer
    }

    public func ping() async throws {
        let reply = try await send(["PING"])
        guard reply.string == "PONG" else { throw GatehouseClientError.unexpectedReply("PING answered \(reply)") }
    }

    private func expectOK(_ command: [String]) async throws {
        let reply = try await send(command)
        guard reply.string == "OK" else { throw GatehouseClientError.unexpectedReply("expected OK") }
    }

    public func close() async throws {
        try await channel.close()
    }

    /// A command as a RESP array of bulk strings.
    public static func encode(_ arguments: [String]) -> ByteBuffer {
        var buffer = ByteBufferAllocator().buffer(capacity: 16 + arguments.reduce(0) { $0 + $1.utf8.count + 16 })
        buffer.writeRESPArrayHeader(count: arguments.count)
        for argument in arguments { buffer.writeRESPBulkString(argument) }
        return buffer
    }
}
