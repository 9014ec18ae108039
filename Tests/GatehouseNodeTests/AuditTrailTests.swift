import Foundation
import GatehouseCore
import GatehouseNode
import GatehouseTestKit
import Logging
import Testing

/// Every admin write becomes an audit entry (who, when, from where, which request, what
/// changed), none holds a secret, and the trail answers by key, actor and time.
@Suite("Audit trail", .serialized)
struct AuditTrailTests {
    static func entries(_ reply: HTTPReply) -> [[String: Any]] { reply.object["entries"] as? [[String: Any]] ?? [] }

    static func changes(_ entry: [String: Any]) -> [String: (before: String?, after: String?)] {
        var found: [String: (String?, String?)] = [:]
        for change in entry["changes"] as? [[String: Any]] ?? [] {
            found[change["field"] as? String ?? ""] = (change["before"] as? String, change["after"] as? String)
        }
        return found
    }

    @Test func everyWriteIsAnEntryWithItsChangesAndNoSecret() async throws {
        let node = try await TestNode.start()
        var secrets: [String] = [TestNode.adminToken]
        // A millisecond between writes, so newest-first is the order they were made in.
        let created = try await node.http("POST", "/v1/keys", json: ["owner": "acct_1", "name": "billing"], headers: ["X-Request-Id": "req-create"])
        let id = try #require(created.object["id"] as? String)
        secrets.append(try #require(created.object["key"] as? String))
        node.clock.advance(byMs: 1)
        #expect(try await node.http("PATCH", "/v1/keys/\(id)", json: ["name": "billing-2", "meta": ["team": "pay"]]).status == 200)
        node.clock.advance(byMs: 1)
        let rotated = try await node.http("POST", "/v1/keys/\(id)/rotate", json: ["grace_ms": 60_000])
        secrets.append(try #require(rotated.object["key"] as? String))
        node.clock.advance(byMs: 1)
        #expect(try await node.http("POST", "/v1/keys/\(id)/revoke").status == 200)
        node.clock.advance(byMs: 1)
        let foreign = "sk_live_audit_0123456789abcdefXYZ"
        secrets.append(foreign)
        let imported = try await node.http("POST", "/v1/keys/import", raw: Data((#"{"owner": "acct_2", "key": "\#(foreign)"}"# + "\n" + #"{"owner": "acct_3"}"#).utf8))
        #expect(imported.object["imported"] as? Int == 2)
        var importedIDs: [String] = []
        for result in imported.object["results"] as? [[String: Any]] ?? [] {
            if let key = result["key"] as? String { secrets.append(key) }
            if let id = result["id"] as? String { importedIDs.append(id) }
        }
        #expect(importedIDs.count == 2)

        let trail = try await node.http("GET", "/v1/audit")
        #expect(trail.status == 200)
        let all = Self.entries(trail)
        #expect(all.map { $0["action"] as? String ?? "" } == ["key.import", "key.revoke", "key.rotate", "key.update", "key.create"])
        let importEntry = try #require(all.first)
        #expect(importEntry["key_ids"] as? [String] == importedIDs, "one entry names every key of the import request")
        #expect(importEntry["key_id"] is NSNull)
        #expect(Self.changes(importEntry)["keys"]?.after == "2")
        for importedID in importedIDs {
            #expect(Self.entries(try await node.http("GET", "/v1/audit?key_id=\(importedID)")).map { $0["id"] as? String } == [importEntry["id"] as? String])
        }
        #expect(Self.entries(try await node.http("GET", "/v1/audit?key_id=\(id)")).allSatisfy { $0["key_ids"] as? [String] == [id] })
        for entry in all {
            #expect(entry["actor"] as? String == "admin")
            #expect(entry["source"] as? String == "127.0.0.1")
            #expect(entry["node"] as? String == "n1")
            #expect((entry["request_id"] as? String ?? "").count > 0)
        }
        let keyTrail = Self.entries(try await node.http("GET", "/v1/audit?key_id=\(id)"))
        #expect(keyTrail.count == 4)
        let create = try #require(keyTrail.last)
        #expect(create["request_id"] as? String == "req-create")
        #expect(Self.changes(create)["owner"]?.after == "acct_1")
        #expect(Self.changes(create)["owner"]?.before == nil)
        let update = Self.changes(keyTrail[2])
        #expect(update["name"]?.before == "billing" && update["name"]?.after == "billing-2")
        #expect(update["meta"]?.before == nil && update["meta"]?.after == "team=pay")
        #expect(update["owner"] == nil, "unchanged fields are not listed")
        let rotate = Self.changes(keyTrail[1])
        #expect(rotate["secret_generation"]?.before == "0" && rotate["secret_generation"]?.after == "1")
        #expect(Self.changes(keyTrail[0])["revoked_at"]?.before == nil && Self.changes(keyTrail[0])["revoked_at"]?.after != nil)

        // No secret anywhere: not in the answers, not in the stored bytes.
        let stored = try Data(contentsOf: URL(fileURLWithPath: "\(node.dataDirectory)/\(SQLiteKeyStorage.fileName)"))
        let walPath = "\(node.dataDirectory)/\(SQLiteKeyStorage.fileName)-wal"
        let wal = FileManager.default.contents(atPath: walPath) ?? Data()
        for secret in secrets {
            #expect(!trail.text.contains(secret))
            #expect(stored.range(of: Data(secret.utf8)) == nil && wal.range(of: Data(secret.utf8)) == nil)
            #expect(!node.logs.text.contains(secret))
        }
        try await node.stop()
    }

    @Test func aWriteThatChangesNothingAndARefusedWriteLeaveNoEntry() async throws {
        let node = try await TestNode.start()
        let key = try await node.createKey(["owner": "acct_1", "name": "same"])
        #expect(try await node.http("PATCH", "/v1/keys/\(key.id)", json: ["name": "same"]).status == 200)
        #expect(try await node.http("PATCH", "/v1/keys/\(key.id)", json: ["scopes": [String(repeating: "x", count: 500)]]).status == 400)
        #expect(Self.entries(try await node.http("GET", "/v1/audit?key_id=\(key.id)")).count == 1)
        try await node.stop()
    }

    @Test func theTrailIsSearchedByKeyActorAndTimeAPageAtATime() async throws {
        let node = try await TestNode.start()
        let t0 = node.clock.nowMs
        var ids: [String] = []
        for index in 0..<5 {
            ids.append(try await node.createKey(["owner": "acct_\(index)"]).id)
            node.clock.advance(byMs: 1_000)
        }
        let page = try await node.http("GET", "/v1/audit?limit=2")
        #expect(Self.entries(page).count == 2)
        let cursor = try #require(page.object["next_cursor"] as? String)
        let next = try await node.http("GET", "/v1/audit?limit=2&cursor=\(cursor)")
        #expect(Self.entries(next).map { $0["key_id"] as? String } == [ids[2], ids[1]])
        let since = JSONTimeForTests.format(t0 + 2_000)
        let until = JSONTimeForTests.format(t0 + 4_000)
        let window = try await node.http("GET", "/v1/audit?since=\(since)&until=\(until)")
        #expect(Self.entries(window).map { $0["key_id"] as? String } == [ids[3], ids[2]])
        #expect(Self.entries(try await node.http("GET", "/v1/audit?actor=admin")).count == 5)
        #expect(Self.entries(try await node.http("GET", "/v1/audit?actor=nobody")).isEmpty)
        #expect(try await node.http("GET", "/v1/audit?since=yesterday").errorCode == "invalid_field")
        #expect(try await node.http("GET", "/v1/audit?cursor=nonsense").errorCode == "invalid_field")
        #expect(try await node.http("GET", "/v1/audit?limit=0").errorCode == "invalid_field")
        try await node.stop()
    }

    @Test func entriesOlderThanTheRetentionArePruned() async throws {
        let node = try await TestNode.start { config in config.auditRetentionDays = 1 }
        _ = try await node.createKey(["owner": "acct_old"])
        node.clock.advance(byMs: 2 * 86_400_000 + 3_600_000)
        let recent = try await node.createKey(["owner": "acct_new"])
        node.server.service.audit.prune()
        let left = Self.entries(try await node.http("GET", "/v1/audit"))
        #expect(left.map { $0["key_id"] as? String } == [recent.id])
        try await node.stop()
    }

    /// A bulk import writes an entry per 1,000 keys, not per key; each key's search finds its
    /// entry, on a restart too, until the retention prunes it with the rows that index it.
    @Test func anImportIsAnEntryPerThousandKeysFoundByEachKeyUntilPruned() async throws {
        let node = try await TestNode.start { config in config.auditRetentionDays = 1 }
        let body = (0..<2_500).map { #"{"owner": "acct_\#($0 % 7)"}"# }.joined(separator: "\n")
        let imported = try await node.http("POST", "/v1/keys/import", raw: Data(body.utf8))
        #expect(imported.object["imported"] as? Int == 2_500)
        let ids = (imported.object["results"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String }
        #expect(ids.count == 2_500)
        let entries = Self.entries(try await node.http("GET", "/v1/audit"))
        #expect(entries.map { ($0["key_ids"] as? [String] ?? []).count }.sorted() == [500, 1_000, 1_000])
        #expect(Set(entries.flatMap { $0["key_ids"] as? [String] ?? [] }) == Set(ids))
        for id in [ids[0], ids[999], ids[1_000], ids[2_499]] {
            let found = Self.entries(try await node.http("GET", "/v1/audit?key_id=\(id)"))
            #expect(found.count == 1 && (found.first?["key_ids"] as? [String] ?? []).contains(id))
        }
        node.clock.advance(byMs: 2 * 86_400_000 + 3_600_000)
        #expect(node.server.service.audit.prune() == 3)
        #expect(Self.entries(try await node.http("GET", "/v1/audit?key_id=\(ids[0])")).isEmpty)
        #expect(Self.entries(try await node.http("GET", "/v1/audit")).isEmpty)
        try await node.stop()
    }

    /// A key's search finds an import's entries by the key's creation time and the id in the
    /// entry's bytes, but only entries that name exactly this key, not a longer id holding it.
    @Test func aKeysSearchFindsOnlyEntriesNamingExactlyIt() async throws {
        let node = try await TestNode.start()
        let key = try await node.createKey(["owner": "acct_exact"])
        let createdAt = try #require(node.server.service.key(id: key.id)?.record.createdAt)
        var random = SystemRandomNumberGenerator()
        let lookalike = AuditEntry(
            id: AuditEntry.makeID(atMs: createdAt, using: &random), atMs: createdAt, node: "n2", actor: "ci", source: "", requestID: "r",
            action: .keyImport, keyIDs: [key.id + "Z", "key_other"], changes: [])
        #expect(node.server.service.audit.merge([lookalike], from: "n2").added == 1)
        let found = Self.entries(try await node.http("GET", "/v1/audit?key_id=\(key.id)"))
        #expect(found.map { $0["action"] as? String } == ["key.create"])
        try await node.stop()
    }

    @Test func aPeersEntriesAreCheckedAndKeptOnce() async throws {
        let node = try await TestNode.start()
        let trail = node.server.service.audit
        var random = SystemRandomNumberGenerator()
        func entry(atMs: Int64) -> AuditEntry {
            AuditEntry(
                id: AuditEntry.makeID(atMs: atMs, using: &random), atMs: atMs, node: "n2", actor: "ci", source: "192.0.2.1", requestID: "r1",
                action: .keyCreate, keyID: "key_peer", changes: [AuditChange(field: "owner", before: nil, after: "acct")])
        }
        let good = entry(atMs: node.clock.nowMs)
        var malformed = entry(atMs: node.clock.nowMs)
        malformed.actor = "Not A Name"
        var tooManyKeys = entry(atMs: node.clock.nowMs)
        tooManyKeys.keyIDs = (0...AuditRules.maxKeysPerEntry).map { "key_\($0)" }
        var emptyKeyID = entry(atMs: node.clock.nowMs)
        emptyKeyID.keyIDs = ["key_a", ""]
        let future = entry(atMs: node.clock.nowMs + 3_600_000)
        let expired = entry(atMs: node.clock.nowMs - 91 * 86_400_000)
        var bulk = entry(atMs: node.clock.nowMs)
        bulk.action = .keyImport
        bulk.keyIDs = (0..<AuditRules.maxKeysPerEntry).map { "key_bulk_\($0)" }
        let outcome = trail.merge([good, good, malformed, tooManyKeys, emptyKeyID, future, expired, bulk], from: "n2")
        #expect(outcome.added == 2)
        #expect(outcome.rejected == [.malformed: 3, .future: 1, .expired: 1])
        #expect(Self.entries(try await node.http("GET", "/v1/audit?actor=ci")).contains { $0["id"] as? String == bulk.id && ($0["key_ids"] as? [String])?.count == AuditRules.maxKeysPerEntry })
        #expect(trail.merge([good], from: "n2").added == 0)
        #expect(Self.entries(try await node.http("GET", "/v1/audit?key_id=key_peer")).count == 1)
        #expect(node.logs.text.contains("replicated audit entries refused"))
        try await node.stop()
    }

    /// An hour holding more than one exchange may send goes out a random run at a time, so
    /// rounds repeated cover all of it; hours that fit go whole.
    @Test func anExchangeSendsWholeHoursAndRandomRunsOfABigOne() throws {
        let clock = ManualClock()
        let trail = try AuditTrail(
            storage: InMemoryAuditStorage(), nodeID: "n1", retentionMs: 86_400_000, maxClockSkewMs: 5_000, now: clock.now,
            logger: Logger(label: "test"))
        var random = SystemRandomNumberGenerator()
        let entries = (0..<30).map { index in
            AuditEntry(
                id: AuditEntry.makeID(atMs: clock.nowMs + Int64(index), using: &random), atMs: clock.nowMs + Int64(index), node: "n2", actor: "ci", source: "", requestID: "r",
                action: .keyCreate, keyID: "key_\(index)", changes: [])
        }
        #expect(trail.merge(entries, from: "n2").added == 30)
        let hours = [AuditDigest.hour(ofMs: clock.nowMs)]
        #expect(trail.entries(forExchange: hours, limit: 100).count == 30)
        var covered = Set<String>()
        for _ in 0..<200 where covered.count < 30 {
            let run = trail.entries(forExchange: hours, limit: 10)
            #expect(run.count == 10)
            covered.formUnion(run.map(\.id))
        }
        #expect(covered.count == 30)
    }

    @Test func aRequestIDIsTakenWhenValidAndGeneratedOtherwise() {
        #expect(RequestID(validating: "abc-123")?.value == "abc-123")
        #expect(RequestID(validating: "") == nil)
        #expect(RequestID(validating: "has space") == nil)
        #expect(RequestID(validating: String(repeating: "a", count: 129)) == nil)
        #expect(RequestID(validating: "é") == nil)
        #expect(RequestID.from(header: "bad id").value.count == 16)
        #expect(RequestID.generate() != RequestID.generate())
    }
}

/// RFC 3339 times for query strings, as the API writes them.
enum JSONTimeForTests {
    static func format(_ ms: Int64) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: Date(timeIntervalSince1970: Double(ms) / 1000))
    }
}
