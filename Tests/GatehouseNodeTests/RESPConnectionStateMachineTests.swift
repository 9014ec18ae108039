import GatehouseCore
@testable import GatehouseNode
import Logging
import NIOCore
import NIOEmbedded
import Testing

/// The RESP connection's backpressure, deadlines and guess limit: the pure machine, and
/// `RESPConnectionHandler` on an `EmbeddedChannel` whose event loop is the fake clock.
@Suite("RESP connection state machine")
struct RESPConnectionStateMachineTests {
    static let token = "gateway-token-abcdefghijklmnop"
    static let second: Int64 = 1_000_000_000

    static func settings(_ adjust: (inout ConnectionSettings) -> Void = { _ in }) -> ConnectionSettings {
        var settings = ConnectionSettings()
        settings.outputHighWaterBytes = 4 * 1024
        settings.outputLimitBytes = 16 * 1024
        adjust(&settings)
        return settings
    }

    // MARK: the machine alone

    @Test func aNonReaderIsPausedAboveTheHighWaterMarkAndClosedAboveTheCap() {
        var machine = RESPConnectionStateMachine(settings: .init(Self.settings(), authRequired: false), openedAt: 0)
        #expect(machine.opened() == .read)
        machine.bytesRead(partialCommand: false, completedCommands: true, at: 1)
        #expect(machine.readComplete(.init(isWritable: true, pendingBytes: 0), at: 1) == .read)
        #expect(machine.writabilityChanged(.init(isWritable: false, pendingBytes: 5_000), at: 2) == .none)
        #expect(machine.state == .paused)
        #expect(machine.writabilityChanged(.init(isWritable: true, pendingBytes: 1_000), at: 3) == .read)
        #expect(machine.state == .reading)
        #expect(machine.readComplete(.init(isWritable: false, pendingBytes: 16 * 1024 + 1), at: 4) == .close(.outputLimit))
        #expect(machine.nextDeadline == nil)
    }

    @Test func aHalfFrameExpiresUnlessCommandsKeepCompleting() {
        var machine = RESPConnectionStateMachine(settings: .init(Self.settings { $0.frameTimeoutMs = 1_000 }, authRequired: false), openedAt: 0)
        machine.bytesRead(partialCommand: true, completedCommands: false, at: 0)
        // A pipeliner whose commands straddle reads makes progress each read.
        machine.bytesRead(partialCommand: true, completedCommands: true, at: Self.second - 1)
        #expect(machine.timerFired(at: Self.second) == .none)
        // One command dribbled: no progress.
        machine.bytesRead(partialCommand: true, completedCommands: false, at: Self.second + 10)
        #expect(machine.nextDeadline == 2 * Self.second - 1)
        #expect(machine.timerFired(at: 2 * Self.second - 1) == .close(.frameTimeout))
    }

    @Test func aHalfFrameLeftWhileReadingIsPausedIsNotTheClientsFault() {
        var machine = RESPConnectionStateMachine(settings: .init(Self.settings { $0.frameTimeoutMs = 1_000 }, authRequired: false), openedAt: 0)
        machine.bytesRead(partialCommand: true, completedCommands: true, at: 0)
        #expect(machine.readComplete(.init(isWritable: false, pendingBytes: 5_000), at: 0) == .none)
        #expect(machine.timerFired(at: 5 * Self.second) == .none)
        #expect(machine.writabilityChanged(.drained, at: 5 * Self.second) == .read)
        #expect(machine.timerFired(at: 6 * Self.second - 1) == .none)
        #expect(machine.timerFired(at: 6 * Self.second) == .close(.frameTimeout))
    }

    @Test func authDeadlineAppliesOnlyUntilAuthenticated() {
        let settings = RESPConnectionStateMachine.Settings(Self.settings { $0.authTimeoutMs = 10_000 }, authRequired: true)
        var late = RESPConnectionStateMachine(settings: settings, openedAt: 0)
        #expect(late.nextDeadline == 10 * Self.second)
        #expect(late.timerFired(at: 10 * Self.second) == .close(.authTimeout))
        var prompt = RESPConnectionStateMachine(settings: settings, openedAt: 0)
        prompt.authSucceeded()
        #expect(prompt.timerFired(at: 10 * Self.second) == .none)
        let open = RESPConnectionStateMachine(settings: .init(Self.settings(), authRequired: false), openedAt: 0)
        #expect(open.nextDeadline == 300 * Self.second)
    }

    // MARK: the handler on an EmbeddedChannel

    @Test func aClientThatNeverReadsStopsBeingReadAndIsClosedAtTheCap() throws {
        let connection = try EmbeddedRESP(settings: Self.settings())
        #expect(connection.reads.count == 1)
        try connection.send(String(repeating: "PING\r\n", count: 10))
        #expect(connection.reads.count == 2)
        // The socket stops taking bytes: replies queue in the channel.
        connection.socket.stalled = true
        connection.channel.isWritable = false
        connection.channel.pipeline.fireChannelWritabilityChanged()
        try connection.send(String(repeating: "PING\r\n", count: 100))
        #expect(connection.reads.count == 2, "no read is asked for while replies do not drain")
        #expect(connection.channel.isActive)
        try connection.send(String(repeating: "PING\r\n", count: 3_000))
        #expect(!connection.channel.isActive)
        #expect(connection.metric(#"gatehouse_connections_closed_total{listener="resp",reason="output_limit"}"#) == 1)
    }

    @Test func readingResumesWhenTheChannelIsWritableAgain() throws {
        let connection = try EmbeddedRESP(settings: Self.settings())
        connection.socket.stalled = true
        connection.channel.isWritable = false
        try connection.send(String(repeating: "PING\r\n", count: 100))
        #expect(connection.reads.count == 1)
        connection.socket.stalled = false
        connection.channel.flush()
        connection.channel.isWritable = true
        connection.channel.pipeline.fireChannelWritabilityChanged()
        #expect(connection.reads.count == 2)
        try connection.send("PING\r\n")
        #expect(connection.reads.count == 3)
        #expect(connection.channel.isActive)
    }

    @Test func aConnectionStalledPastTheStallTimeoutIsClosed() throws {
        let connection = try EmbeddedRESP(settings: Self.settings { $0.outputStallTimeoutMs = 2_000 })
        connection.socket.stalled = true
        connection.channel.isWritable = false
        try connection.send(String(repeating: "PING\r\n", count: 100))
        connection.loop.advanceTime(by: .milliseconds(1_999))
        #expect(connection.channel.isActive)
        connection.loop.advanceTime(by: .milliseconds(1))
        #expect(!connection.channel.isActive)
        #expect(connection.metric(#"gatehouse_connections_closed_total{listener="resp",reason="output_stalled"}"#) == 1)
    }

    @Test func anIdleConnectionIsClosedAfterTheIdleTimeout() throws {
        let connection = try EmbeddedRESP(settings: Self.settings { $0.respIdleTimeoutMs = 5_000 })
        connection.loop.advanceTime(by: .seconds(4))
        try connection.send("PING\r\n")
        connection.loop.advanceTime(by: .seconds(4))
        #expect(connection.channel.isActive, "activity moves the idle deadline")
        connection.loop.advanceTime(by: .seconds(1))
        #expect(!connection.channel.isActive)
        #expect(connection.metric(#"gatehouse_connections_closed_total{listener="resp",reason="idle"}"#) == 1)
    }

    @Test func aConnectionThatDoesNotAuthenticateInTimeIsClosed() throws {
        let settings = Self.settings { $0.authTimeoutMs = 10_000 }
        let late = try EmbeddedRESP(settings: settings, tokens: [Self.token])
        try late.send("PING\r\n")
        #expect(late.replies().hasPrefix("-NOAUTH"))
        late.loop.advanceTime(by: .seconds(10))
        #expect(!late.channel.isActive)
        #expect(late.metric(#"gatehouse_connections_closed_total{listener="resp",reason="auth_timeout"}"#) == 1)

        let prompt = try EmbeddedRESP(settings: settings, tokens: [Self.token])
        try prompt.send("AUTH \(Self.token)\r\n")
        #expect(prompt.replies() == "+OK\r\n")
        prompt.loop.advanceTime(by: .seconds(11))
        #expect(prompt.channel.isActive)
    }

    @Test func aHalfSentCommandIsClosedAtItsDeadline() throws {
        let connection = try EmbeddedRESP(settings: Self.settings { $0.frameTimeoutMs = 3_000 })
        try connection.send("*2\r\n$4\r\nPING\r\n$5\r\nhel")
        connection.loop.advanceTime(by: .seconds(2))
        try connection.send("l")
        connection.loop.advanceTime(by: .seconds(1))
        #expect(!connection.channel.isActive, "more bytes of the same command do not move its deadline")
        #expect(connection.metric(#"gatehouse_connections_closed_total{listener="resp",reason="frame_timeout"}"#) == 1)
    }

    @Test func pipelinedGuessesStopAtTheFailureLimit() throws {
        let connection = try EmbeddedRESP(settings: Self.settings { $0.maxAuthFailures = 3 }, tokens: [Self.token])
        let guesses = (0..<50).map { "AUTH guess-\($0)-wrong-wrong-wrong\r\n" }.joined()
        try connection.send(guesses + "AUTH \(Self.token)\r\n")
        let replies = connection.replies()
        #expect(replies.components(separatedBy: "-WRONGPASS").count - 1 == 3, "only three guesses are evaluated")
        #expect(!replies.contains("+OK"))
        #expect(!connection.channel.isActive)
        #expect(connection.metric(#"gatehouse_connections_closed_total{listener="resp",reason="auth_failures"}"#) == 1)
        #expect(connection.metric(#"gatehouse_resp_errors_total{reason="wrong_password"}"#) == 3)
    }
}

/// A `RESPConnectionHandler` on an `EmbeddedChannel`, with a counter of the reads it asks
/// for and a socket that can stop taking bytes.
final class EmbeddedRESP {
    let loop = EmbeddedEventLoop()
    let channel: EmbeddedChannel
    let metrics = NodeMetrics()
    let reads = ReadCounter()
    let socket = StallableSocket()

    init(settings: ConnectionSettings, tokens: [String] = []) throws {
        channel = EmbeddedChannel(loop: loop)
        let service = try KeyService(
            nodeID: "t1", hasher: LookupHasher(pepper: Array(repeating: 7, count: 32)), settings: .init(),
            defaultLimits: [.defaultHourly], defaultPrefix: "gk", storage: InMemoryKeyStorage(), now: { 1_800_000_000_000 },
            logger: Logger(label: "test"))
        let registry = ConnectionRegistry(caps: .init(maxConnections: 10, maxUnauthenticated: 10, maxPerSource: 10))
        let shared = RESPServerContext(
            service: service, metrics: metrics,
            authenticator: GatewayAuthenticator(gatewayTokens: tokens, adminToken: "admin-token-0123456789"),
            logger: Logger(label: "test"), accessLog: AccessLog(logger: Logger(label: "test"), settings: AccessLogSettings()),
            nodeID: "t1", connections: registry)
        let handler = RESPConnectionHandler(
            shared, limits: .default, settings: .init(settings, authRequired: !tokens.isEmpty), connectionID: 1,
            openedAt: Int64(loop.now.uptimeNanoseconds), peer: nil)
        try channel.pipeline.syncOperations.addHandler(socket)
        try channel.pipeline.syncOperations.addHandler(reads)
        try channel.pipeline.syncOperations.addHandler(handler)
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 7379)).wait()
        _ = registry.admit(channel, authenticated: tokens.isEmpty)
    }

    func send(_ text: String) throws {
        try channel.writeInbound(ByteBuffer(string: text))
    }

    /// Everything the handler has sent (and the socket taken) so far.
    func replies() -> String {
        var text = ""
        while let buffer = try? channel.readOutbound(as: ByteBuffer.self) {
            text += String(buffer: buffer)
        }
        return text
    }

    func metric(_ line: String) -> Double? {
        let text = String(decoding: metrics.registry.emitToBuffer(), as: UTF8.self)
        for row in text.split(separator: "\n") where row.hasPrefix(line + " ") {
            return Double(row.dropFirst(line.count + 1))
        }
        return nil
    }
}

/// Counts the reads a handler asks the channel for.
final class ReadCounter: ChannelOutboundHandler {
    typealias OutboundIn = Any
    private(set) var count = 0

    func read(context: ChannelHandlerContext) {
        count += 1
        context.read()
    }
}

/// While `stalled`, flushes do not reach the channel, so written bytes stay queued (and
/// count in `bufferedWritableBytes`), as with a peer that does not read.
final class StallableSocket: ChannelOutboundHandler {
    typealias OutboundIn = Any
    var stalled = false

    func flush(context: ChannelHandlerContext) {
        if !stalled { context.flush() }
    }
}
