import GRPCCore
import GatehouseCore

/// With `gateway_tokens` configured, every Envoy gRPC call must carry one in the
/// `x-gatehouse-token` metadata (Envoy: `grpc_service.initial_metadata`) or as
/// `authorization: Bearer <token>`; wrong tokens count as failed attempts of the peer, and a
/// throttled peer is refused before its token is compared, as on the other listeners.
struct GatewayTokenInterceptor: ServerInterceptor {
    let authenticator: GatewayAuthenticator
    let keys: KeyService
    let metrics: NodeMetrics

    func intercept<Input: Sendable, Output: Sendable>(
        request: StreamingServerRequest<Input>, context: ServerContext,
        next: @Sendable (StreamingServerRequest<Input>, ServerContext) async throws -> StreamingServerResponse<Output>
    ) async throws -> StreamingServerResponse<Output> {
        guard authenticator.isRequired else { return try await next(request, context) }
        let method: NodeMetrics.GRPCMethod = context.descriptor.method == "Check" ? .check : .shouldRateLimit
        let token = request.metadata[stringValues: "x-gatehouse-token"].first(where: { _ in true })
            ?? request.metadata[stringValues: "authorization"].first(where: { _ in true }).flatMap(BearerToken.parse)
        guard let token else {
            metrics.countGRPC(method, .unauthenticated)
            throw RPCError(code: .unauthenticated, message: "this node needs a gateway token in the x-gatehouse-token metadata")
        }
        let source = Self.source(context.remotePeer)
        let origin = { SecurityEventLog.Origin(sourceIP: EnvoyRateLimitService.peerHost(context.remotePeer), requestID: RequestID.generate().value) }
        switch keys.checkCredential(from: source, { authenticator.acceptsGateway(token.utf8) }) {
        case .accepted:
            return try await next(request, context)
        case .refused:
            keys.events.credentialRefused(.gatewayAuthFailed, origin: origin())
            metrics.countGRPC(method, .unauthenticated)
            throw RPCError(code: .unauthenticated, message: "the gateway token is not valid")
        case .sourceThrottled:
            keys.events.sourceThrottled(source, origin: origin)
            metrics.countGRPC(method, .unauthenticated)
            throw RPCError(code: .resourceExhausted, message: "too many failed attempts from this address; retry later with a valid token")
        }
    }

    /// The peer's address from grpc-swift's `ipv4:127.0.0.1:31415` / `ipv6:[::1]:443`.
    static func source(_ peer: String) -> SourceIdentity? {
        let parts = peer.split(separator: ":", maxSplits: 1)
        guard parts.count == 2, parts[0] == "ipv4" || parts[0] == "ipv6" else { return nil }
        var address = parts[1]
        if let portColon = address.lastIndex(of: ":") { address = address[..<portColon] }
        let host = address.hasPrefix("[") && address.hasSuffix("]") ? address.dropFirst().dropLast() : address
        return SourceAddress.identity(String(host))
    }
}
