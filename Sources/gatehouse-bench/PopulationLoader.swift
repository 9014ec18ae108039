import Crypto
import Foundation
import GatehouseClient

/// Puts a key population where a run needs it: into a Gatehouse node through its admin
/// API, or into Redis as the hashes the Lua key check reads.
enum PopulationLoader {
    /// Creates the keys of `kinds` on a node (revoking the revoked ones) and returns the population.
    static func create(kinds: [KeyKind], on admin: AdminAPI, seed: UInt64) async throws -> KeyPopulation {
        var generator = SplitMix64(seed: seed ^ 0xA5A5)
        var secrets = kinds.map { $0 == .invalid ? KeyPopulation.unknownSecret(using: &generator) : "" }
        let toCreate = kinds.indices.filter { kinds[$0] != .invalid }
        let batch = 8
        var start = 0
        while start < toCreate.count {
            let slice = toCreate[start..<min(start + batch, toCreate.count)]
            let created = try await withThrowingTaskGroup(of: (Int, String).self) { group in
                for index in slice {
                    let kind = kinds[index]
                    group.addTask {
                        let limit = kind == .rateLimited ? 1 : RequestCatalog.unreachableLimit
                        let key = try await admin.createKey(name: "bench-\(index)", limit: limit)
                        if kind == .revoked { try await admin.revokeKey(id: key.id) }
                        return (index, key.secret)
                    }
                }
                var done: [(Int, String)] = []
                for try await pair in group { done.append(pair) }
                return done
            }
            for (index, secret) in created { secrets[index] = secret }
            start += batch
        }
        return KeyPopulation(secrets: secrets, kinds: kinds)
    }

    /// Generates secrets for `kinds` and stores every non-invalid key in Redis as the Lua
    /// script expects it, plus `bench:get:<i>` for the GET workload. Returns the population
    /// and the SHA-1 of the loaded Lua script.
    static func loadIntoRedis(kinds: [KeyKind], client: GatehouseClient, seed: UInt64) async throws -> (KeyPopulation, String) {
        var generator = SplitMix64(seed: seed ^ 0x5A5A)
        let secrets = kinds.map { _ in KeyPopulation.unknownSecret(using: &generator) }
        var commands: [[String]] = []
        for (index, kind) in kinds.enumerated() where kind != .invalid {
            let digest = Insecure.SHA1.hash(data: Array(secrets[index].utf8)).map { String(format: "%02x", $0) }.joined()
            let limit = kind == .rateLimited ? 1 : RequestCatalog.unreachableLimit
            commands.append([
                "HSET", LuaKeyCheck.recordName(sha1Hex: digest), "enabled", "1", "revoked", kind == .revoked ? "1" : "0",
                "expires_at", "0", "scopes", "read,orders:*", "limit", String(limit), "window_ms", "3600000",
                "id", "key_bench\(index)", "owner", "bench",
            ])
            commands.append(["SET", "bench:get:\(index)", "key_bench\(index)"])
            if commands.count >= 1000 {
                try await run(commands, on: client)
                commands.removeAll(keepingCapacity: true)
            }
        }
        try await run(commands, on: client)
        guard let sha = try await client.send(["SCRIPT", "LOAD", LuaKeyCheck.script]).string else {
            throw AdminAPI.Failure(description: "SCRIPT LOAD did not answer a SHA")
        }
        return (KeyPopulation(secrets: secrets, kinds: kinds), sha)
    }

    private static func run(_ commands: [[String]], on client: GatehouseClient) async throws {
        guard !commands.isEmpty else { return }
        for reply in try await client.pipeline(commands) {
            if case .error(let line) = reply { throw AdminAPI.Failure(description: "Redis refused loading the population: \(line)") }
        }
    }
}
