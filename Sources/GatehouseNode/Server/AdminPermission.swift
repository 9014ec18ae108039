/// What an admin token may do. Each admin route needs exactly one (`AdminRoutes.table`).
public enum AdminPermission: String, CaseIterable, Hashable, Sendable, Comparable {
    case keysRead = "keys:read"
    case keysWrite = "keys:write"
    case keysRevoke = "keys:revoke"
    case clusterRead = "cluster:read"
    case auditRead = "audit:read"
    /// `GET /v1/events`: the security events.
    case eventsRead = "events:read"

    public static func < (lhs: AdminPermission, rhs: AdminPermission) -> Bool { lhs.rawValue < rhs.rawValue }

    /// Every permission's name, for messages.
    public static var names: String { allCases.map(\.rawValue).joined(separator: ", ") }
}
