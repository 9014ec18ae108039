import GatehouseCore
import Logging

/// The request id and access line of the Envoy gRPC services. Envoy names the request in
/// ext_authz's `attributes.request.http.headers` (`x-request-id`, which Envoy sets on every
/// request it routes); `ShouldRateLimit` carries no headers, so its id comes from the call's
/// `x-request-id` metadata when the gateway sends one, and is generated otherwise. Ids are
/// made only when something logs: the services are on the gateways' hot path.
struct GRPCRequestTrail: Sendable {
    static let requestIDHeader = "x-request-id"

    let log: AccessLog
    let sampler: SharedAccessLogSampler

    /// What one call logs: its access line (when sampled in) and debug line (when on).
    struct Plan {
        var accessLine: Bool
        var debugLine: Bool
        var any: Bool { accessLine || debugLine }
    }

    func begin() -> Plan {
        Plan(accessLine: sampler.next(), debugLine: log.logger.logLevel <= .debug)
    }

    /// The id Envoy gave the request, or a new one.
    static func requestID(headers: [String: String]) -> RequestID {
        RequestID.from(header: headers[requestIDHeader])
    }

    /// Writes the debug line and the access line of one call, as planned.
    func finish(_ entry: AccessLog.Entry, _ plan: Plan) {
        if plan.debugLine {
            var metadata: Logger.Metadata = ["request_id": "\(entry.requestID)", "method": "\(entry.command ?? "")"]
            metadata["code"] = entry.code.map { .string($0) }
            metadata["key_id"] = entry.keyID.map { .string($0) }
            log.logger.debug("envoy call", metadata: metadata)
        }
        if plan.accessLine { log.write(entry) }
    }
}
