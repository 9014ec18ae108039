import HTTPTypes

/// Every admin route and the one permission it needs: the only place that says which token
/// may call what (the router asks it for each admin route it registers, and the tests walk it).
public enum AdminRoutes {
    public struct Route: Hashable, Sendable {
        public var method: HTTPRequest.Method
        /// As the router writes it (`:id` for a path parameter).
        public var path: String
        public var permission: AdminPermission
    }

    public static let table: [Route] = [
        Route(method: .get, path: "/v1/keys", permission: .keysRead),
        Route(method: .get, path: "/v1/keys/:id", permission: .keysRead),
        Route(method: .post, path: "/v1/keys", permission: .keysWrite),
        Route(method: .patch, path: "/v1/keys/:id", permission: .keysWrite),
        Route(method: .post, path: "/v1/keys/:id/rotate", permission: .keysWrite),
        Route(method: .post, path: "/v1/keys/import", permission: .keysWrite),
        Route(method: .post, path: "/v1/keys/:id/revoke", permission: .keysRevoke),
        Route(method: .get, path: "/v1/cluster/members", permission: .clusterRead),
        Route(method: .get, path: "/v1/cluster/status", permission: .clusterRead),
        Route(method: .get, path: "/v1/audit", permission: .auditRead),
        Route(method: .get, path: "/v1/events", permission: .eventsRead),
    ]

    /// The permission `method path` needs; nil for a route that is not an admin route.
    public static func permission(_ method: HTTPRequest.Method, _ path: String) -> AdminPermission? {
        table.first { $0.method == method && $0.path == path }?.permission
    }
}
