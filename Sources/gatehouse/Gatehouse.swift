import ArgumentParser
import GatehouseNode

/// The `gatehouse` command: a node (`serve`) and the tools to manage and query one.
@main
struct Gatehouse: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gatehouse",
        abstract: "API-key validation and rate limiting for API gateways.",
        version: GatehouseVersion.current,
        subcommands: [Serve.self, Keys.self, Audit.self, Tokens.self, Verify.self, Members.self, Cluster.self]
    )
}
