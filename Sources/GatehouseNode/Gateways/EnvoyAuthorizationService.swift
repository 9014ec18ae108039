import Foundation
import GRPCCore
import GatehouseCore
import GatehouseEnvoyProto

/// `envoy.service.auth.v3.Authorization/Check` (ext_authz over gRPC): moves Envoy's messages
/// to and from `EnvoyAuthorizationDecision`.
struct EnvoyAuthorizationService: Envoy_Service_Auth_V3_Authorization.SimpleServiceProtocol {
    typealias Request = Envoy_Service_Auth_V3_CheckRequest
    typealias Response = Envoy_Service_Auth_V3_CheckResponse

    let decision: EnvoyAuthorizationDecision
    let keys: KeyService
    let metrics: NodeMetrics
    let trail: GRPCRequestTrail

    /// google.rpc.Code values Envoy reads in `CheckResponse.status`.
    private enum RPCCode: Int32 {
        case ok = 0
        case permissionDenied = 7
        case unauthenticated = 16
    }

    func check(request: Request, context: ServerContext) async throws -> Response {
        let attributes = request.attributes
        let http = attributes.request.http
        let source = attributes.source.address.socketAddress.address
        let asked = EnvoyCheckRequest(
            headers: http.headers, path: http.path, contextExtensions: attributes.contextExtensions,
            sourceAddress: source.isEmpty ? nil : source)
        let plan = trail.begin()
        let started = plan.any ? ContinuousClock.now : nil
        // The id Envoy gave the request, read (or made) only when a line is written.
        let requestID = plan.any ? GRPCRequestTrail.requestID(headers: http.headers) : nil
        var verified: VerifyAnswer?
        let answer: EnvoyCheckAnswer
        do {
            answer = try decision.decide(asked) { key, verifyRequest in
                let answer = keys.verify(key: key, verifyRequest)
                metrics.countVerify(answer.code)
                keys.events.verified(answer.code, keyID: answer.keyID, source: verifyRequest.source) {
                    .init(sourceIP: source.isEmpty ? nil : source, requestID: (requestID ?? GRPCRequestTrail.requestID(headers: http.headers)).value)
                }
                verified = answer
                return answer
            }
        } catch {
            metrics.countGRPC(.check, .invalid)
            throw RPCError(code: .invalidArgument, message: error.description)
        }
        if let started, let requestID {
            trail.finish(AccessLog.Entry(
                requestID: requestID, keyID: verified?.keyID, owner: verified?.owner, sourceIP: source.isEmpty ? nil : source,
                method: http.method.isEmpty ? nil : http.method, command: "Check", path: http.path.split(separator: "?").first.map(String.init),
                code: verified?.code.rawValue, durationNanoseconds: (ContinuousClock.now - started).nanoseconds,
                userAgent: http.headers["user-agent"]), plan)
        }
        var response = Response()
        switch answer {
        case .allowed(let upstream, let toClient):
            metrics.countGRPC(.check, .ok)
            response.status.code = RPCCode.ok.rawValue
            var ok = Envoy_Service_Auth_V3_OkHttpResponse()
            ok.headers = upstream.map(Self.overwriting)
            ok.responseHeadersToAdd = toClient.map(Self.overwriting)
            response.okResponse = ok
        case .denied(let status, let headers, let code):
            metrics.countGRPC(.check, .denied)
            response.status.code = (status == 401 ? RPCCode.unauthenticated : .permissionDenied).rawValue
            response.status.message = code.rawValue
            var denied = Envoy_Service_Auth_V3_DeniedHttpResponse()
            denied.status.code = Envoy_Type_V3_StatusCode(rawValue: status) ?? .forbidden
            var sent = headers + [.init("content-type", "application/json")]
            // The refused client gets Envoy's id back, to quote when asking why.
            if let given = http.headers[GRPCRequestTrail.requestIDHeader].flatMap(RequestID.init(validating:)) {
                sent.append(.init(GRPCRequestTrail.requestIDHeader, given.value))
            }
            denied.headers = sent.map(Self.overwriting)
            denied.body = #"{"valid":false,"code":"\#(code.rawValue)"}"#
            response.deniedResponse = denied
        }
        return response
    }

    private static func overwriting(_ header: EnvoyCheckAnswer.Header) -> Envoy_Config_Core_V3_HeaderValueOption {
        var option = Envoy_Config_Core_V3_HeaderValueOption()
        option.header.key = header.name
        option.header.value = header.value
        option.appendAction = .overwriteIfExistsOrAdd
        return option
    }
}
