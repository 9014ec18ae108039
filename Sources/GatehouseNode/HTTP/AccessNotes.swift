/// What a route learns that the access line wants (the key, its owner, the verify code, the
/// admin's name) handed out to `AccessLogMiddleware`, which sees only the answer. The route
/// gets a copy of the context, so a shared box is the way back. `nil` in the context when the
/// HTTP access log is off: routes then note nothing.
final class AccessNotes: Sendable {
    struct Fields: Sendable {
        var keyID: String?
        var owner: String?
        var code: String?
        var actor: String?
    }

    private let fields = LockedBox(Fields())

    init() {}

    var current: Fields { fields.withLock { $0 } }

    func note(_ change: @Sendable (inout Fields) -> Void) {
        fields.withLock { change(&$0) }
    }
}
