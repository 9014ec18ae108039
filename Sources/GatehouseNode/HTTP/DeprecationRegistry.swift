/// Every deprecated route and request field of the HTTP API, consulted on each request by
/// `DeprecationMiddleware`.
public struct DeprecationRegistry: Sendable {
    public var entries: [Deprecation]

    public init(_ entries: [Deprecation]) {
        self.entries = entries
    }

    /// What this version of Gatehouse has deprecated: one line per route or field, e.g.
    /// `Deprecation("POST", "/v1/keys/{id}/revoke", field: "reason", since: "2027-01-04",
    /// sunset: "2027-07-05", replacement: "PATCH /v1/keys/{id}")`. Nothing is deprecated yet.
    /// The sunset must be at least `minimumNoticeDays` after the deprecation (README.md,
    /// "Compatibility"); mark the same entry `deprecated: true` in `openapi.yaml`.
    public static let product = DeprecationRegistry([])

    /// The notice README.md promises between deprecation and sunset: 180 days.
    public static let minimumNoticeDays: Int64 = 180

    var isEmpty: Bool { entries.isEmpty }

    /// The entries of one route (a `HEAD` request is its `GET`'s).
    func entries(method: String, path: String) -> [Deprecation] {
        let method = method == "HEAD" ? "GET" : method
        return entries.filter { $0.method == method && $0.path == path }
    }
}
