import Hummingbird

/// Puts `Gatehouse-API-Version` on every answer of the router: successes, errors, 404s and
/// 405s. It turns errors into their answers itself (the router would do so after the
/// middlewares, out of reach of any header), so the middlewares outside it, the request id and
/// the access log, see an answer for every request.
struct APIVersionMiddleware: RouterMiddleware {
    typealias Context = GatehouseRequestContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var response: Response
        do {
            response = try await next(request, context)
        } catch let error as any HTTPResponseError {
            response = try error.response(from: request, context: context)
        } catch {
            // What the server would answer, a bare 500; only the type is logged, as an error's
            // description might quote the request.
            context.logger.error("request failed unexpectedly", metadata: ["error_type": "\(type(of: error))"])
            response = try HTTPError(.internalServerError).response(from: request, context: context)
        }
        response.headers[APIVersion.header] = APIVersion.current
        return response
    }
}
