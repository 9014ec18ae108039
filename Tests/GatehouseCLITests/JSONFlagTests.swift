import ArgumentParser
import Testing
@testable import gatehouse

/// Every `gatehouse` command that does something takes `--json`.
@Suite("--json on every command")
struct JSONFlagTests {
    /// The commands without subcommands, by their path (`keys show`).
    static func leaves(of command: any ParsableCommand.Type, path: [String] = []) -> [(String, any ParsableCommand.Type)] {
        let configuration = command.configuration
        let name = configuration.commandName ?? command._commandName
        let here = path + (path.isEmpty && name == "gatehouse" ? [] : [name])
        guard !configuration.subcommands.isEmpty else { return [(here.joined(separator: " "), command)] }
        return configuration.subcommands.flatMap { leaves(of: $0, path: here) }
    }

    @Test func everyLeafCommandTakesJSON() {
        let leaves = Self.leaves(of: Gatehouse.self)
        #expect(Set(leaves.map(\.0)) == [
            "serve", "keys create", "keys list", "keys show", "keys update", "keys revoke", "keys rotate",
            "keys import", "audit", "tokens generate", "verify", "members", "cluster up", "cluster status",
        ])
        for (path, command) in leaves {
            #expect(command.helpMessage().contains("--json"), "gatehouse \(path) --json")
        }
    }

    @Test func theFlagParses() throws {
        #expect(try Keys.Show.parse(["key_x", "--json"]).connection.json)
        #expect(try Members.parse(["--json"]).connection.json)
        #expect(try Cluster.Status.parse(["--json"]).connection.json)
        #expect(try Verify.parse(["gk_x", "--json"]).json)
        #expect(try Serve.parse(["--json"]).json)
        #expect(try Cluster.Up.parse(["--json"]).json)
        #expect(try Audit.parse(["--key", "key_x", "--json"]).connection.json)
        #expect(try Tokens.Generate.parse(["--name", "ci", "--permission", "keys:read", "--json"]).json)
        #expect(try !Keys.List.parse([]).connection.json)
    }
}
