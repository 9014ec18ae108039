import HTTPTypes
import Hummingbird

/// Writes one access line per HTTP request (see `AccessLog`). Outside `APIVersionMiddleware`,
/// which turns every error into its answer, so refusals, 404s and 405s are logged with their
/// status; inside `RequestIDMiddleware`, so the line has the request's id.
struct AccessLogMiddleware: RouterMiddleware {
    typealias Context = GatehouseRequestContext
    /// `nil`: `access_log.http` is off.
    let log: AccessLog?
    let trustedProxies: TrustedProxies

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let log else { return try await next(request, context) }
        let started = ContinuousClock.now
        var context = context
        let notes = AccessNotes()
        context.accessNotes = notes
        var status = 500
        defer {
            let noted = notes.current
            log.write(AccessLog.Entry(
                requestID: context.requestID, keyID: noted.keyID, owner: noted.owner, sourceIP: clientIP(request, context),
                method: request.method.rawValue, path: request.uri.path, status: status, code: noted.code,
                durationNanoseconds: (ContinuousClock.now - started).nanoseconds, userAgent: request.headers[.userAgent],
                actor: noted.actor))
        }
        let response = try await next(request, context)
        status = response.status.code
        return response
    }

    /// The client as the audit trail names it: the peer, or whom a trusted proxy forwards.
    private func clientIP(_ request: Request, _ context: Context) -> String? {
        guard let peer = context.remoteAddress.flatMap(IPAddress.init) else { return nil }
        return trustedProxies.clientAddress(peer: peer, forwardedFor: request.headers[values: .xForwardedFor], realIP: request.headers[.xRealIP])
            .description
    }
}

extension Duration {
    /// Whole nanoseconds, as `event.duration` wants them.
    var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}
