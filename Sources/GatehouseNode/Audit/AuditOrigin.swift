/// Who made an admin write and through which request: what an audit entry records besides
/// the change itself.
public struct AuditOrigin: Hashable, Sendable {
    /// The admin token's name.
    public var actor: String
    /// The client's address, after `trusted_proxies`; empty when unknown.
    public var source: String
    public var requestID: RequestID

    public init(actor: String, source: String, requestID: RequestID) {
        self.actor = actor
        self.source = source
        self.requestID = requestID
    }

    /// A write made by code in this process rather than through the admin API (tools and
    /// tests that call `KeyService` directly).
    public static var inProcess: AuditOrigin {
        AuditOrigin(actor: "in-process", source: "", requestID: .generate())
    }
}
