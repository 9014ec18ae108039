import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// An HTTP error with a JSON body `{"error": {"code", "message", "field"}}`.
///
/// The message says what to do next and never repeats a secret from the request.
public struct APIError: HTTPResponseError, Sendable {
    public var status: HTTPResponse.Status
    public var code: String
    public var message: String
    public var field: String?
    public var kind: NodeMetrics.HTTPErrorKind
    public var extraHeaders: HTTPFields = [:]

    public init(_ status: HTTPResponse.Status, code: String, field: String? = nil, _ message: String, kind: NodeMetrics.HTTPErrorKind) {
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.kind = kind
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        var error: [String: String] = ["code": code, "message": message]
        if let field { error["field"] = field }
        let data = try JSONSerialization.data(withJSONObject: ["error": error], options: [.sortedKeys])
        var headers = extraHeaders
        headers[.contentType] = "application/json"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    static func unauthorized(_ message: String) -> APIError {
        var error = APIError(.unauthorized, code: "unauthorized", message, kind: .unauthorized)
        error.extraHeaders[.wwwAuthenticate] = "Bearer"
        return error
    }

    /// A valid admin token without the permission the route needs. Names the permission,
    /// never the token.
    static func missingPermission(_ permission: AdminPermission) -> APIError {
        APIError(
            .forbidden, code: "missing_permission",
            "this admin token lacks the permission \(permission.rawValue); use a token that has it (admin_tokens in cluster.yaml)",
            kind: .forbidden)
    }

    /// Too many failed attempts (bad keys or tokens) from the caller's address lately.
    static func sourceThrottled(retryAfterMs: Int64) -> APIError {
        let seconds = (retryAfterMs + 999) / 1000
        var error = APIError(
            .tooManyRequests, code: "source_throttled",
            "too many failed attempts from this address; retry after \(seconds) s with a valid token", kind: .sourceThrottled)
        error.extraHeaders[.retryAfter] = String(seconds)
        return error
    }

    static func badJSON(_ message: String) -> APIError {
        APIError(.badRequest, code: "bad_json", message, kind: .badJSON)
    }

    static func invalid(_ field: String, _ message: String) -> APIError {
        APIError(.badRequest, code: "invalid_field", field: field, message, kind: .invalidField)
    }

    static func bodyTooLarge(limit: Int) -> APIError {
        APIError(.contentTooLarge, code: "too_large", "the request body is over \(limit) bytes", kind: .tooLarge)
    }
}
