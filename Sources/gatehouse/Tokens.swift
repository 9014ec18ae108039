import ArgumentParser
import Foundation
import GatehouseCore
import GatehouseNode

/// `gatehouse tokens …`: make named admin tokens for `admin_tokens:` in `cluster.yaml`.
struct Tokens: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Make named admin tokens with permissions.", subcommands: [Generate.self])

    struct Generate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print a new admin token (shown once) and the admin_tokens entry that holds only its SHA-256.")
        @Option(help: "The token's name: the actor in the audit trail and the logs (e.g. ci-deployer).")
        var name: String
        @Option(name: .customLong("permission"), help: "A permission (repeatable): \(AdminPermission.names).")
        var permissions: [String]
        @Flag(help: "Print one JSON object instead of text.")
        var json = false

        func validate() throws {
            guard AuditRules.isName(name, maxBytes: AuditRules.maxActorBytes), name != AdminTokenSpec.legacyName else {
                throw ValidationError("--name \(name): use 1-\(AuditRules.maxActorBytes) of a-z, 0-9, '.', '_', '-', ':' (not \"admin\")")
            }
            guard !permissions.isEmpty else { throw ValidationError("give at least one --permission: \(AdminPermission.names)") }
            for permission in permissions where AdminPermission(rawValue: permission) == nil {
                throw ValidationError("--permission \(permission) is not one of \(AdminPermission.names)")
            }
        }

        func run() async throws {
            var random = SystemRandomNumberGenerator()
            let token = APIKeyFormat.generate(prefix: "gadmin", using: &random)
            let hash = AdminCredential.hex(AdminCredential.sha256(token))
            let listed = Set(permissions).sorted()
            if json {
                print(try JSONOutput.pretty(["name": name, "token": token, "sha256": hash, "permissions": listed]))
                return
            }
            print("""
                Admin token \(name) (shown once; give it to its user, keep it nowhere else):
                  \(token)

                Add to cluster.yaml (the same on every node):
                admin_tokens:
                  - name: \(name)
                    sha256: "\(hash)"
                    permissions: [\(listed.joined(separator: ", "))]
                """)
        }
    }
}
