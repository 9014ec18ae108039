import Foundation
import GatehouseCore
import GatehouseNode
import Testing
@testable import gatehouse

/// `gatehouse keys show` and friends print what a person reads: no Swift literals, the same
/// order every run, `-` for nothing, `yes`/`no`, readable times.
@Suite("CLI output for people")
struct KeyTableTests {
    static let keyJSON = """
        {"id": "key_4bQn8Hc2VxWm0LrTz9KpYa", "start": "gk_7Fq2", "name": "billing", "owner": "acct_42",
         "scopes": ["read", "orders:*"], "enabled": true,
         "limits": [{"name": "minute", "limit": 60, "window_ms": 60000, "strict": false},
                    {"name": "burst", "limit": 5, "window_ms": 250, "strict": true}],
         "credits": null, "refill": null,
         "meta": {"zone": "eu", "tier": "gold", "app": "shop", "b": "2", "a": "1"},
         "version": "1795000000000.0@n1", "created_at": "2026-11-18T11:06:40.000Z",
         "expires_at": "2027-01-01T00:00:00.250Z", "revoked_at": null, "last_used_at": null,
         "retired_secrets": [{"start": "gk_old1", "valid_until": "2026-11-19T11:06:40.000Z"}]}
        """

    static func decode(_ json: String) throws -> KeyDocument {
        try AdminConnection.decoder.decode(KeyDocument.self, from: Data(json.utf8))
    }

    static func value(_ field: String, in fields: [(String, String)]) -> String? {
        fields.first { $0.0 == field }?.1
    }

    @Test func showPrintsLimitsMetaFlagsAndTimesReadably() throws {
        let fields = KeyTable.fields(try Self.decode(Self.keyJSON))
        #expect(Self.value("limits", in: fields) == "minute=60/60s,burst=5/250ms strict")
        #expect(Self.value("meta", in: fields) == "a=1, app=shop, b=2, tier=gold, zone=eu")
        #expect(Self.value("enabled", in: fields) == "yes")
        #expect(Self.value("state", in: fields) == "active")
        #expect(Self.value("credits", in: fields) == "unlimited")
        #expect(Self.value("created_at", in: fields) == "2026-11-18 11:06:40 UTC")
        #expect(Self.value("expires_at", in: fields) == "2027-01-01 00:00:00.250 UTC")
        #expect(Self.value("last_used_at", in: fields) == "never")
        #expect(Self.value("retired_secrets", in: fields) == "gk_old1… until 2026-11-19 11:06:40 UTC")
        #expect(Self.value("key", in: fields) == nil, "no secret in a show")
        let text = KeyTable.renderFields(fields)
        for literal in ["[\"", "\":", "[:]", "window_ms", "Optional(", "true", "false"] {
            #expect(!text.contains(literal), "no Swift or JSON literal \(literal) in:\n\(text)")
        }
    }

    @Test func emptyMetaAndLimitsAreADash() throws {
        var key = try Self.decode(Self.keyJSON)
        key.meta = [:]
        key.limits = []
        key.enabled = false
        key.revokedAt = "2026-11-20T00:00:00.000Z"
        let fields = KeyTable.fields(key)
        #expect(Self.value("meta", in: fields) == "-")
        #expect(Self.value("limits", in: fields) == "-")
        #expect(Self.value("enabled", in: fields) == "no")
        #expect(Self.value("state", in: fields) == "revoked")
        #expect(Self.value("revoked_at", in: fields) == "2026-11-20 00:00:00 UTC")
    }

    @Test func theOrderIsTheSameWhateverTheDictionaryOrder() throws {
        let first = try Self.decode(Self.keyJSON)
        var second = first
        second.meta = [:]
        for (name, value) in first.meta.sorted(by: { $0.key > $1.key }) { second.meta[name] = value }
        #expect(KeyTable.renderFields(KeyTable.fields(first)) == KeyTable.renderFields(KeyTable.fields(second)))
        #expect(KeyTable.fields(first).map(\.0) == [
            "id", "start", "name", "owner", "scopes", "limits", "credits", "refill", "meta", "enabled", "state",
            "created_at", "expires_at", "revoked_at", "last_used_at", "retired_secrets", "version",
        ])
    }

    @Test func theListShowsLimitsTheSameWay() throws {
        let row = KeyTable.row(try Self.decode(Self.keyJSON))
        #expect(row[KeyTable.columns.firstIndex(of: "limits")!] == "minute=60/60s,burst=5/250ms strict")
        #expect(row[KeyTable.columns.firstIndex(of: "credits")!] == "-")
        #expect(row[KeyTable.columns.firstIndex(of: "expires_at")!] == "2027-01-01 00:00:00.250 UTC")
    }

    @Test func aCreatedKeyShowsItsSecretOnce() throws {
        var key = try Self.decode(Self.keyJSON)
        key.key = "gk_7Fq2LmX9cVbN4tR8wYz1HkPd3sJ6gA0e5Uoi"
        let fields = KeyTable.fields(key)
        #expect(fields.map(\.0).prefix(2) == ["id", "key"])
        #expect(fields.filter { $0.1.contains("LmX9cVbN") }.count == 1)
    }

    @Test func clusterStatusAndVerifyUseTheSameWords() throws {
        let status = try JSONDecoder().decode(ClusterStatusView.self, from: Data("""
            {"node_id": "n1", "clustered": true, "members_by_state": {"suspect": 1, "alive": 2}, "member_count": 3,
             "key_count": 7, "key_digest": "ab12", "counter_windows": 4, "last_anti_entropy": null}
            """.utf8))
        let fields = status.fields
        #expect(Self.value("clustered", in: fields) == "yes")
        #expect(Self.value("members", in: fields) == "alive 2, suspect 1")
        #expect(Self.value("last anti-entropy", in: fields) == "never")
        var answer = VerifyAnswer(code: .valid)
        answer.meta = ["z": "1", "a": "2"]
        let verify = Verify.fields(answer)
        #expect(Self.value("valid", in: verify) == "yes")
        #expect(Self.value("meta", in: verify) == "a=2, z=1")
        #expect(Self.value("limit", in: verify) == "-")
        let json = try JSONSerialization.data(withJSONObject: Verify.jsonObject(answer))
        let object = try #require(try JSONSerialization.jsonObject(with: json) as? [String: Any])
        #expect(object["valid"] as? Bool == true)
        #expect(object["limit"] is NSNull)
    }

    @Test func durationsAreSecondsWhenWhole() {
        #expect(KeyTable.duration(ms: 60_000) == "60s")
        #expect(KeyTable.duration(ms: 3_600_000) == "3600s")
        #expect(KeyTable.duration(ms: 1_500) == "1500ms")
    }
}
