import GRPCCore
import GatehouseCore
import GatehouseEnvoyProto
import SwiftProtobuf

/// `envoy.service.ratelimit.v3.RateLimitService/ShouldRateLimit`: moves Envoy's messages to
/// and from `EnvoyRateLimitDecision`, which counts on the cluster's shared sliding windows
/// (the `THROTTLE` path) and verifies API-key descriptors.
struct EnvoyRateLimitService: Envoy_Service_Ratelimit_V3_RateLimitService.SimpleServiceProtocol {
    typealias Request = Envoy_Service_Ratelimit_V3_RateLimitRequest
    typealias Response = Envoy_Service_Ratelimit_V3_RateLimitResponse

    let decision: EnvoyRateLimitDecision
    let keys: KeyService
    let metrics: NodeMetrics
    let trail: GRPCRequestTrail

    /// The form with the call's metadata: a request id the gateway sends as `x-request-id`
    /// metadata (Envoy: `initial_metadata` of the rate-limit service's gRPC service) names the
    /// call in its events and access line, and comes back as the answer's `x-request-id`
    /// metadata — made here when the call has none (or one that is not visible ASCII).
    func shouldRateLimit(request: ServerRequest<Request>, context: ServerContext) async throws -> ServerResponse<Response> {
        let given = request.metadata[stringValues: GRPCRequestTrail.requestIDHeader].first { _ in true }
        var requestID = given.map(RequestID.from(header:))
        let message = try await decide(request.message, context: context, requestID: &requestID)
        let answered = requestID ?? .generate()
        return ServerResponse(message: message, metadata: [GRPCRequestTrail.requestIDHeader: .string(answered.value)])
    }

    func shouldRateLimit(request: Request, context: ServerContext) async throws -> Response {
        var requestID: RequestID?
        return try await decide(request, context: context, requestID: &requestID)
    }

    /// One call: `requestID` is the caller's (already checked), or one made here when
    /// something logs it — left in `requestID` for the answer.
    private func decide(_ request: Request, context: ServerContext, requestID madeID: inout RequestID?) async throws -> Response {
        func requestID() -> RequestID {
            if let madeID { return madeID }
            let id = RequestID.generate()
            madeID = id
            return id
        }
        let asked = EnvoyRateLimitRequest(
            domain: request.domain,
            descriptors: request.descriptors.map { descriptor in
                EnvoyRateLimitRequest.Descriptor(
                    descriptor.entries.map { DescriptorEntry($0.key, $0.value) },
                    hitsAddend: descriptor.hasHitsAddend ? descriptor.hitsAddend.value : nil)
            },
            hitsAddend: UInt64(request.hitsAddend))
        let plan = trail.begin()
        let started = plan.any ? ContinuousClock.now : nil
        var verified: VerifyAnswer?
        let answer: EnvoyRateLimitAnswer
        do {
            answer = try decision.evaluate(
                asked,
                count: { bucket, limit, windowMs, cost in
                    let answer = keys.throttle(bucket, limit: limit, windowMs: windowMs, cost: cost)
                    (answer.allowed ? metrics.throttleAllowed : metrics.throttleRefused).increment()
                    return answer
                },
                verify: { key, cost in
                    let answer = keys.verify(key: key, VerifyRequest(cost: cost))
                    metrics.countVerify(answer.code)
                    keys.events.verified(answer.code, keyID: answer.keyID, source: nil) {
                        .init(sourceIP: Self.peerHost(context.remotePeer), requestID: requestID().value)
                    }
                    verified = answer
                    return answer
                })
        } catch {
            metrics.countGRPC(.shouldRateLimit, .invalid)
            throw RPCError(code: .invalidArgument, message: error.description, metadata: [GRPCRequestTrail.requestIDHeader: .string(requestID().value)])
        }
        metrics.countGRPC(.shouldRateLimit, answer.overallCode == .ok ? .ok : .overLimit)
        if let started {
            trail.finish(AccessLog.Entry(
                requestID: requestID(), keyID: verified?.keyID, owner: verified?.owner, sourceIP: Self.peerHost(context.remotePeer),
                command: "ShouldRateLimit", path: request.domain,
                code: verified?.code.rawValue ?? (answer.overallCode == .ok ? "OK" : "OVER_LIMIT"),
                durationNanoseconds: (ContinuousClock.now - started).nanoseconds), plan)
        }
        return Self.response(answer)
    }

    /// The host of grpc-swift's `ipv4:127.0.0.1:31415` / `ipv6:[::1]:443`.
    static func peerHost(_ peer: String) -> String? {
        let parts = peer.split(separator: ":", maxSplits: 1)
        guard parts.count == 2, parts[0] == "ipv4" || parts[0] == "ipv6" else { return nil }
        var address = parts[1]
        if let portColon = address.lastIndex(of: ":") { address = address[..<portColon] }
        return String(address.hasPrefix("[") && address.hasSuffix("]") ? address.dropFirst().dropLast() : address)
    }

    static func response(_ answer: EnvoyRateLimitAnswer) -> Response {
        var response = Response()
        response.overallCode = code(answer.overallCode)
        response.statuses = answer.statuses.map { status in
            var out = Response.DescriptorStatus()
            out.code = code(status.code)
            if let limit = status.currentLimit {
                var current = Response.RateLimit()
                current.requestsPerUnit = limit.requestsPerUnit
                current.unit = limit.unit.map(unit) ?? .unknown
                current.name = limit.name ?? ""
                out.currentLimit = current
            }
            out.limitRemaining = status.limitRemaining
            out.durationUntilReset = Google_Protobuf_Duration(
                seconds: status.durationUntilResetMs / 1000, nanos: Int32(status.durationUntilResetMs % 1000) * 1_000_000)
            return out
        }
        response.responseHeadersToAdd = answer.responseHeaders.map { header in
            var value = Envoy_Config_Core_V3_HeaderValue()
            value.key = header.name
            value.value = header.value
            return value
        }
        return response
    }

    private static func code(_ code: EnvoyRateLimitAnswer.Code) -> Response.Code {
        code == .ok ? .ok : .overLimit
    }

    private static func unit(_ unit: RateLimitUnit) -> Response.RateLimit.Unit {
        switch unit {
        case .second: .second
        case .minute: .minute
        case .hour: .hour
        case .day: .day
        case .week: .week
        case .month: .month
        case .year: .year
        }
    }
}
