import ArgumentParser
import Foundation

/// `gatehouse keys …`: manage keys through a node's admin API.
struct Keys: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create, list, show, update, revoke and rotate API keys.",
        subcommands: [Create.self, List.self, Show.self, Update.self, Revoke.self, Rotate.self, Import.self])

    /// Options describing a key's fields, shared by create and update.
    struct Fields: ParsableArguments {
        @Option(help: "Display name.")
        var name: String?
        @Option(help: "Owner (account id).")
        var owner: String?
        @Option(name: .customLong("scope"), help: "A granted scope (repeatable); \"orders:*\" grants every orders: scope.")
        var scopes: [String] = []
        @Option(name: .customLong("limit"), help: "A rate limit NAME:LIMIT:WINDOW_MS (repeatable), e.g. hour:1000:3600000.")
        var limits: [String] = []
        @Option(help: "Expiry, RFC 3339 (e.g. 2027-01-01T00:00:00Z).")
        var expiresAt: String?
        @Option(help: "Usage quota: requests (cost units) before USAGE_EXCEEDED.")
        var credits: Int64?
        @Option(name: .customLong("meta"), help: "Metadata KEY=VALUE (repeatable).")
        var meta: [String] = []

        func body() throws -> [String: Any] {
            var body: [String: Any] = [:]
            if let name { body["name"] = name }
            if let owner { body["owner"] = owner }
            if !scopes.isEmpty { body["scopes"] = scopes }
            if !limits.isEmpty {
                body["limits"] = try limits.map { text -> [String: Any] in
                    let parts = text.split(separator: ":")
                    guard parts.count == 3, let limit = Int64(parts[1]), let window = Int64(parts[2]) else {
                        throw ValidationError("--limit \(text): write NAME:LIMIT:WINDOW_MS, e.g. hour:1000:3600000")
                    }
                    return ["name": String(parts[0]), "limit": limit, "window_ms": window]
                }
            }
            if let expiresAt { body["expires_at"] = expiresAt }
            if let credits { body["credits"] = credits }
            if !meta.isEmpty {
                var pairs: [String: String] = [:]
                for item in meta {
                    guard let equals = item.firstIndex(of: "=") else { throw ValidationError("--meta \(item): write KEY=VALUE") }
                    pairs[String(item[..<equals])] = String(item[item.index(after: equals)...])
                }
                body["meta"] = pairs
            }
            return body
        }
    }

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a key; its secret is printed once.")
        @OptionGroup var connection: AdminConnection
        @OptionGroup var fields: Fields
        @Option(help: "Key prefix, 1-16 of [a-z0-9] (default gk).")
        var prefix: String?

        func run() async throws {
            var body = try fields.body()
            if let prefix { body["prefix"] = prefix }
            let key = try await connection.call("POST", "/v1/keys", body: body, as: KeyDocument.self)
            guard !connection.json else { return }
            KeyTable.print(key: key)
            print("\nStore the key now: it is not shown again.")
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List keys, by owner, a page at a time.")
        @OptionGroup var connection: AdminConnection
        @Option(help: "Only this owner's keys.")
        var owner: String?
        @Option(help: "Page size (1-1000).")
        var limit = 100
        @Option(help: "Continue after this key id (next_cursor of the previous page).")
        var cursor: String?

        func run() async throws {
            var query = ["limit=\(limit)"]
            if let owner { query.append("owner=\(owner.addingPercentEncoding(withAllowedCharacters: .urlQueryAllowed) ?? owner)") }
            if let cursor { query.append("cursor=\(cursor)") }
            let page = try await connection.call("GET", "/v1/keys?" + query.joined(separator: "&"), as: KeyDocument.Page.self)
            guard !connection.json else { return }
            KeyTable.print(keys: page.keys)
            if let next = page.nextCursor { print("\nmore: --cursor \(next)") }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one key.")
        @OptionGroup var connection: AdminConnection
        @Argument(help: "The key id (key_…).")
        var id: String

        func run() async throws {
            let key = try await connection.call("GET", "/v1/keys/\(id)", as: KeyDocument.self)
            if !connection.json { KeyTable.print(key: key) }
        }
    }

    struct Update: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Change fields of a key.")
        @OptionGroup var connection: AdminConnection
        @Argument(help: "The key id (key_…).")
        var id: String
        @OptionGroup var fields: Fields
        @Flag(help: "Enable the key.")
        var enable = false
        @Flag(help: "Disable the key (verifies answer DISABLED).")
        var disable = false
        @Flag(help: "Remove the expiry.")
        var noExpiry = false
        @Flag(help: "Remove the usage quota.")
        var noCredits = false

        func run() async throws {
            guard !(enable && disable) else { throw ValidationError("--enable and --disable exclude each other") }
            var body = try fields.body()
            if enable { body["enabled"] = true }
            if disable { body["enabled"] = false }
            if noExpiry { body["expires_at"] = NSNull() }
            if noCredits { body["credits"] = NSNull() }
            guard !body.isEmpty else { throw ValidationError("nothing to change: give at least one field option") }
            let key = try await connection.call("PATCH", "/v1/keys/\(id)", body: body, as: KeyDocument.self)
            if !connection.json { KeyTable.print(key: key) }
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke a key for good.")
        @OptionGroup var connection: AdminConnection
        @Argument(help: "The key id (key_…).")
        var id: String

        func run() async throws {
            let key = try await connection.call("POST", "/v1/keys/\(id)/revoke", as: KeyDocument.self)
            if !connection.json { KeyTable.print(key: key) }
        }
    }

    struct Rotate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Give a key a new secret; the old one works for --grace-ms more.")
        @OptionGroup var connection: AdminConnection
        @Argument(help: "The key id (key_…).")
        var id: String
        @Option(help: "How long the old secret keeps working, in milliseconds.")
        var graceMs: Int64 = 0

        func run() async throws {
            let key = try await connection.call("POST", "/v1/keys/\(id)/rotate", body: ["grace_ms": graceMs], as: KeyDocument.self)
            guard !connection.json else { return }
            KeyTable.print(key: key)
            print("\nStore the new key now: it is not shown again.")
        }
    }
}
