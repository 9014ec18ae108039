import Foundation
import Hummingbird
import Logging
import NIOCore

/// Adds `Deprecation`, `Sunset` and `Link` to the answers of deprecated routes, and of
/// requests that use a deprecated field, as `DeprecationRegistry` lists them; logs the first
/// use of each with its replacement, so operators learn which callers to move.
///
/// Innermost, after the body limit: only a route with deprecated fields has its body read
/// here (to see which top-level members it names); every other request passes untouched.
struct DeprecationMiddleware: RouterMiddleware {
    typealias Context = GatehouseRequestContext
    let registry: DeprecationRegistry
    let maxBodyBytes: Int
    let logger: Logger
    /// Deprecations whose use was already logged.
    let announced = LockedBox<Set<String>>([])

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard !registry.isEmpty, let path = context.endpointPath else { return try await next(request, context) }
        let candidates = registry.entries(method: request.method.rawValue, path: path)
        guard !candidates.isEmpty else { return try await next(request, context) }
        var request = request
        var applicable = candidates.filter { $0.field == nil }
        if candidates.contains(where: { $0.field != nil }) {
            let named = try await fieldNames(of: &request)
            applicable += candidates.filter { deprecation in deprecation.field.map(named.contains) ?? false }
        }
        guard !applicable.isEmpty else { return try await next(request, context) }
        announce(applicable)
        let headers = Deprecation.headers(for: applicable)
        do {
            var response = try await next(request, context)
            response.headers.append(contentsOf: headers)
            return response
        } catch var error as APIError {
            error.extraHeaders.append(contentsOf: headers)
            throw error
        }
    }

    /// The query parameters' names and the top-level members of a JSON object body; the body
    /// is collected and left in the request for the route.
    private func fieldNames(of request: inout Request) async throws -> Set<String> {
        var names = Set(request.uri.queryParameters.map { String($0.key) })
        let body = try await request.collectBody(upTo: maxBodyBytes)
        if body.readableBytes > 0,
            let object = try? JSONSerialization.jsonObject(with: Data(body.readableBytesView)) as? [String: Any]
        {
            names.formUnion(object.keys)
        }
        return names
    }

    private func announce(_ deprecations: [Deprecation]) {
        for deprecation in deprecations {
            let name = "\(deprecation.method) \(deprecation.path)" + (deprecation.field.map { " field \($0)" } ?? "")
            let first = announced.withLock { $0.insert(name).inserted }
            guard first else { continue }
            logger.notice(
                "deprecated API used; move its callers before the sunset",
                metadata: [
                    "deprecated": "\(name)", "replacement": "\(deprecation.replacement)",
                    "sunset": "\(HTTPDate.format(unixSeconds: deprecation.sunsetAt))",
                ])
        }
    }
}
