// The fuzz target's stand-in for `GatehouseNode`'s `APIError`, whose real definition needs
// Hummingbird: the same initialiser and factories that `HTTPModels.swift` and
// `JSONCoding.swift` use, without the HTTP response around them.

struct APIError: Error {
    enum Status { case badRequest }
    enum Kind { case unknownField, invalidField, badJSON }

    var code: String
    var field: String?
    var message: String

    init(_ status: Status, code: String, field: String? = nil, _ message: String, kind: Kind) {
        self.code = code
        self.field = field
        self.message = message
    }

    static func badJSON(_ message: String) -> APIError {
        APIError(.badRequest, code: "bad_json", message, kind: .badJSON)
    }

    static func invalid(_ field: String, _ message: String) -> APIError {
        APIError(.badRequest, code: "invalid_field", field: field, message, kind: .invalidField)
    }
}
