import Foundation
import Testing
@testable import gatehouse

/// `gatehouse audit` prints one line per entry a person can read: readable time, `-` for
/// nothing, changes as `field: before → after`.
@Suite("CLI audit table")
struct AuditTableTests {
    static let pageJSON = """
        {"entries": [
          {"id": "aud_3kT9wQ2mZ8xV1bN4cR7yL0", "at": "2026-12-03T04:00:00.000Z", "node": "n1", "actor": "ci-deployer",
           "source": "192.0.2.7", "request_id": "deploy-42", "action": "key.update", "key_id": "key_4bQn8Hc2VxWm0LrTz9KpYa",
           "key_ids": ["key_4bQn8Hc2VxWm0LrTz9KpYa"], "changes": [{"field": "name", "before": "billing", "after": "billing-2"}, {"field": "meta", "before": null, "after": "team=pay"}]},
          {"id": "aud_0000000000000000000000", "at": "2026-12-03T03:59:59.500Z", "node": "n2", "actor": "admin",
           "source": null, "request_id": "00ff", "action": "key.revoke", "key_id": null, "key_ids": [], "changes": []},
          {"id": "aud_0000000000000000000001", "at": "2026-12-03T03:59:59.000Z", "node": "n1", "actor": "migrator",
           "source": null, "request_id": "imp-1", "action": "key.import", "key_id": null, "key_ids": ["key_a", "key_b", "key_c"],
           "changes": [{"field": "keys", "before": null, "after": "3"}]}
        ], "next_cursor": "1764734399500-aud_0000000000000000000000"}
        """

    @Test func entriesReadAsOneLineEach() throws {
        let page = try AdminConnection.decoder.decode(AuditDocument.Page.self, from: Data(Self.pageJSON.utf8))
        #expect(page.nextCursor == "1764734399500-aud_0000000000000000000000")
        let lines = AuditTable.render(page.entries).split(separator: "\n").map(String.init)
        #expect(lines.count == 4)
        #expect(lines[0].hasPrefix("at "))
        #expect(lines[1].contains("2026-12-03 04:00:00 UTC") && lines[1].contains("ci-deployer") && lines[1].contains("deploy-42"))
        #expect(lines[1].contains("name: billing → billing-2; meta: - → team=pay"))
        #expect(lines[2].contains("2026-12-03 03:59:59.500 UTC") && lines[2].contains("key.revoke"))
        #expect(lines[3].contains("key.import") && lines[3].contains("3 keys") && lines[3].contains("keys: - → 3"))
        #expect(!lines.joined().contains("Optional") && !lines.joined().contains("nil"))
    }
}
