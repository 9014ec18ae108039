import Foundation
import GatehouseCore
import GatehouseNode
import Testing

/// Named admin tokens: each permission allows exactly the routes `AdminRoutes.table` gives
/// it, the admin token of old allows them all, and a refusal names the permission, never the token.
@Suite("Admin tokens and permissions", .serialized)
struct AdminPermissionTests {
    /// One token per permission, named after it (`keys-read` for `keys:read`).
    static let tokens: [AdminPermission: String] = Dictionary(uniqueKeysWithValues: AdminPermission.allCases.map { permission in
        (permission, "secret-for-\(permission.rawValue.replacingOccurrences(of: ":", with: "-"))-0123456789")
    })

    static func name(_ permission: AdminPermission) -> String { permission.rawValue.replacingOccurrences(of: ":", with: "-") }

    static func startNode() async throws -> TestNode {
        try await TestNode.start { config in
            config.adminTokens = AdminPermission.allCases.map { permission in
                AdminTokenSpec(name: name(permission), secret: .sha256(AdminCredential.sha256(tokens[permission]!)), permissions: [permission])
            }
        }
    }

    /// The route's path with `:id` filled in by a key that exists.
    static func concretePath(_ route: AdminRoutes.Route, keyID: String) -> String {
        route.path.replacingOccurrences(of: ":id", with: keyID)
    }

    /// A body each route accepts, so a status other than 403 means "let through".
    static func body(for route: AdminRoutes.Route) -> (json: Any?, raw: Data?) {
        switch (route.method, route.path) {
        case (.post, "/v1/keys"): (["owner": "acct_perm"], nil)
        case (.patch, "/v1/keys/:id"): (["name": "renamed"], nil)
        case (.post, "/v1/keys/import"): (nil, Data(#"{"owner": "acct_import"}"#.utf8))
        default: (nil, nil)
        }
    }

    @Test func eachPermissionAllowsExactlyItsRoutes() async throws {
        let node = try await Self.startNode()
        for permission in AdminPermission.allCases {
            let token = Self.tokens[permission]!
            for route in AdminRoutes.table {
                // A fresh key per request: a revoke or rotate let through must not change
                // what the next route finds.
                let key = try await node.createKey(["owner": "acct_routes"])
                let body = Self.body(for: route)
                let reply = try await node.http(
                    route.method.rawValue, Self.concretePath(route, keyID: key.id), json: body.json, raw: body.raw, token: token)
                if route.permission == permission {
                    #expect((200..<300).contains(reply.status), "\(permission.rawValue) → \(route.method) \(route.path): \(reply.status) \(reply.text)")
                } else {
                    #expect(reply.status == 403, "\(permission.rawValue) → \(route.method) \(route.path): \(reply.status)")
                    #expect(reply.errorCode == "missing_permission")
                    #expect(reply.text.contains(route.permission.rawValue))
                    #expect(!reply.text.contains(token))
                }
            }
        }
        try await node.stop()
    }

    @Test func everyPermissionHasItsRoutesAndEveryAdminRouteOnePermission() {
        var seen = Set<String>()
        for route in AdminRoutes.table {
            #expect(seen.insert("\(route.method) \(route.path)").inserted, "\(route.method) \(route.path) listed twice")
        }
        let used = Set(AdminRoutes.table.map(\.permission))
        #expect(used == Set(AdminPermission.allCases))
    }

    @Test func theAdminTokenKeepsEveryPermission() async throws {
        let node = try await Self.startNode()
        for route in AdminRoutes.table {
            let key = try await node.createKey(["owner": "acct_legacy"])
            let body = Self.body(for: route)
            let reply = try await node.http(route.method.rawValue, Self.concretePath(route, keyID: key.id), json: body.json, raw: body.raw)
            #expect((200..<300).contains(reply.status), "admin → \(route.method) \(route.path): \(reply.status) \(reply.text)")
        }
        try await node.stop()
    }

    @Test func anUnknownTokenIsUnauthorizedAndPublicRoutesNeedNone() async throws {
        let node = try await Self.startNode()
        let refused = try await node.http("GET", "/v1/keys", token: "not-a-token-0123456789abcdef")
        #expect(refused.status == 401)
        #expect(try await node.http("GET", "/healthz", token: nil).status == 200)
        #expect(try await node.http("GET", "/v1/audit", token: nil).status == 401)
        try await node.stop()
    }

    @Test func theTokenNameIsTheActorOfTheAuditEntryAndTheLogs() async throws {
        let node = try await Self.startNode()
        let created = try await node.http(
            "POST", "/v1/keys", json: ["owner": "acct_actor"], token: Self.tokens[.keysWrite]!, headers: ["X-Request-Id": "deploy-42"])
        #expect(created.status == 201)
        let id = created.object["id"] as? String ?? ""
        let trail = try await node.http("GET", "/v1/audit?key_id=\(id)", token: Self.tokens[.auditRead]!)
        let entries = trail.object["entries"] as? [[String: Any]] ?? []
        #expect(entries.count == 1)
        #expect(entries.first?["actor"] as? String == "keys-write")
        #expect(entries.first?["request_id"] as? String == "deploy-42")
        #expect(node.logs.all.contains { $0.contains("key created") && $0.contains("keys-write") })
        try await node.stop()
    }

    @Test func aGeneratedTokenIsShownOnceAndOnlyItsHashIsKept() throws {
        var config = NodeConfig()
        config.dataDirectory = TemporaryDirectory.make()
        config.adminTokens = [AdminTokenSpec(name: "ops", secret: .generated, permissions: [.clusterRead])]
        let first = try NodeSecrets.resolve(for: config)
        let shown = try #require(first.newlyGeneratedNamedTokens.first)
        #expect(shown.name == "ops")
        let again = try NodeSecrets.resolve(for: config)
        #expect(again.newlyGeneratedNamedTokens.isEmpty)
        let file = try String(contentsOfFile: "\(config.dataDirectory)/\(NodeSecrets.fileName)", encoding: .utf8)
        #expect(!file.contains(shown.token))
        let authenticator = AdminAuthenticator(credentials: again.adminCredentials)
        #expect(authenticator.identify(shown.token.utf8)?.name == "ops")
        #expect(authenticator.identify(shown.token.utf8)?.permissions == [.clusterRead])
        #expect(authenticator.identify(again.adminToken.utf8)?.name == "admin")
        #expect(authenticator.identify("gadmin_wrong".utf8) == nil)
    }
}
