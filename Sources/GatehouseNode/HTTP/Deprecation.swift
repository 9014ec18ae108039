import HTTPTypes

/// A route, or one request field of a route, that still works but is on its way out.
///
/// Its answers carry `Deprecation: @<unix seconds>` (RFC 9745), `Sunset: <HTTP-date>`
/// (RFC 8594) and, with a documentation URL, `Link: <url>; rel="deprecation"`. Entries live in
/// `DeprecationRegistry.product`, one line each; `openapi.yaml` marks the same route or field
/// `deprecated: true`.
public struct Deprecation: Sendable, Equatable {
    /// `GET`, `POST`, …; a `HEAD` request matches its `GET`.
    public var method: String
    /// The route as `openapi.yaml` writes it, parameters in braces: `/v1/keys/{id}`.
    public var path: String
    /// A request field (query parameter or top-level JSON body member) whose use is deprecated;
    /// `nil` deprecates the whole route.
    public var field: String?
    /// When it was deprecated, Unix seconds.
    public var deprecatedAt: Int64
    /// When it stops working, Unix seconds.
    public var sunsetAt: Int64
    /// What to use instead, for people: the operator's log and the documentation.
    public var replacement: String
    /// Where the deprecation is explained, for the `Link` header.
    public var documentation: String?

    /// `since` and `sunset` are UTC dates, `YYYY-MM-DD`; a table entry with another form is a
    /// programming error, caught by the registry's tests.
    public init(
        _ method: String, _ path: String, field: String? = nil, since: String, sunset: String,
        replacement: String, documentation: String? = nil
    ) {
        self.method = method
        self.path = path
        self.field = field
        self.deprecatedAt = Self.unixSeconds(ofDay: since)
        self.sunsetAt = Self.unixSeconds(ofDay: sunset)
        self.replacement = replacement
        self.documentation = documentation
    }

    /// The headers for an answer to which `deprecations` apply (one route may have several
    /// deprecated fields in one request): the earliest deprecation and the earliest sunset.
    static func headers(for deprecations: [Deprecation]) -> HTTPFields {
        guard let deprecatedAt = deprecations.map(\.deprecatedAt).min(),
            let sunsetAt = deprecations.map(\.sunsetAt).min()
        else { return [:] }
        var headers: HTTPFields = [:]
        headers[.deprecation] = "@\(deprecatedAt)"
        headers[.sunset] = HTTPDate.format(unixSeconds: sunsetAt)
        let links = Set(deprecations.compactMap(\.documentation)).sorted().map { "<\($0)>; rel=\"deprecation\"" }
        if !links.isEmpty { headers[.link] = links.joined(separator: ", ") }
        return headers
    }

    private static func unixSeconds(ofDay day: String) -> Int64 {
        guard let ms = JSONTime.parse(day + "T00:00:00Z") else {
            preconditionFailure("deprecation date \(day) is not YYYY-MM-DD")
        }
        return ms / 1000
    }
}

extension HTTPField.Name {
    static let deprecation = Self("Deprecation")!
    static let sunset = Self("Sunset")!
    static let link = Self("Link")!
}
