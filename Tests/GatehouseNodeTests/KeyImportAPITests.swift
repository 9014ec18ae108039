import Foundation
import GatehouseCore
@testable import GatehouseNode
import Logging
import Testing

/// Bulk import (`POST /v1/keys/import`, `KeyService.importKeys`): new keys, the caller's own
/// key strings and keys known only by their SHA-256; refusals per line, nothing half-applied.
@Suite("Key import API", .timeLimit(.minutes(5)))
struct KeyImportAPITests {
    private static func sha256Hex(_ text: String) -> String {
        var text = text
        return text.withUTF8 { ImportedKeyFormat.sha256(UnsafeRawBufferPointer($0)) }.hex
    }

    @Test func eachLineIsImportedOrRefusedOnItsOwnAndImportedKeysVerify() async throws {
        let node = try await TestNode.start()
        let held = try await node.createKey()
        let foreign = "sk_live_51HxQv2eZvKYlo2C0aBcDeFgHiJk"
        let hashed = "legacy-7f3d9c2b1a0e4f5d6c7b8a9"
        let body = [
            #"{"owner": "acct_1", "scopes": ["read"]}"#,
            #"{"owner": "acct_2", "key": "\#(foreign)", "meta": {"from": "stripe"}}"#,
            "",
            #"{"owner": "acct_3", "sha256": "\#(Self.sha256Hex(hashed))", "start": "legacy"}"#,
            #"{"owner": "acct_4", "key": "\#(foreign)"}"#,
            #"{"owner": "acct_5", "key": "\#(held.secret)"}"#,
            #"{"owner": "acct_6", "limits": "many"}"#,
            "not json at all",
            #"{"owner": "acct_7", "surprise": 1}"#,
        ].joined(separator: "\n")
        let reply = try await node.http("POST", "/v1/keys/import", raw: Data(body.utf8), headers: ["Content-Type": "application/x-ndjson"])
        #expect(reply.status == 200, "\(reply.text)")
        #expect(reply.object["imported"] as? Int == 3)
        #expect(reply.object["refused"] as? Int == 5)
        let results = try #require(reply.object["results"] as? [[String: Any]])
        #expect(results.map { $0["line"] as? Int } == [1, 2, 4, 5, 6, 7, 8, 9])
        func error(_ line: Int) -> [String: Any]? { results.first { $0["line"] as? Int == line }?["error"] as? [String: Any] }
        #expect(error(5)?["code"] as? String == "conflict")
        #expect(error(6)?["code"] as? String == "conflict")
        #expect((error(6)?["message"] as? String)?.contains(held.id) == true)
        #expect(error(7)?["field"] as? String == "limits")
        #expect(error(8)?["code"] as? String == "bad_json")
        #expect(error(9)?["code"] as? String == "unknown_field")
        // The generated key is shown once; the brought ones are never echoed.
        let generated = try #require(results[0]["key"] as? String)
        #expect(generated.hasPrefix("gk_"))
        #expect(!reply.text.contains(foreign))
        #expect(!reply.text.contains(hashed))

        for (key, owner) in [(generated, "acct_1"), (foreign, "acct_2"), (hashed, "acct_3")] {
            let verified = try await node.http("POST", "/v1/verify", json: ["key": key], token: nil)
            #expect(verified.object["code"] as? String == "VALID", "\(owner): \(verified.text)")
            #expect(verified.object["owner"] as? String == owner)
        }
        let shown = try await node.http("GET", "/v1/keys/\(try #require(results[2]["id"] as? String))")
        #expect(shown.object["secret_form"] as? String == "sha256")
        #expect(shown.object["start"] as? String == "legacy")
        // More lines than one request may carry: refused whole, before any is read.
        let tooMany = try await node.http("POST", "/v1/keys/import", raw: Data(String(repeating: "{}\n", count: KeyService.maxImportBatch + 1).utf8))
        #expect(tooMany.status == 400)
        #expect(tooMany.errorCode == "invalid_field")
        try await node.stop()
    }

    @Test func anImportIsRefusedWholeWhenItIsTooLargeOrEmpty() async throws {
        let node = try await TestNode.start { config in
            config.maxBodyBytes = 1_024
            config.maxImportBodyBytes = 4_096
        }
        let line = #"{"owner": "acct_1"}"# + "\n"
        let tooLarge = try await node.http("POST", "/v1/keys/import", raw: Data(String(repeating: line, count: 300).utf8))
        #expect(tooLarge.status == 413)
        let empty = try await node.http("POST", "/v1/keys/import", raw: Data("\n  \n".utf8))
        #expect(empty.status == 400)
        #expect(empty.errorCode == "bad_json")
        let anonymous = try await node.http("POST", "/v1/keys/import", raw: Data(line.utf8), token: nil)
        #expect(anonymous.status == 401)
        let listed = try await node.http("GET", "/v1/keys")
        #expect((listed.object["keys"] as? [Any])?.count == 0)
        // The import's path is its own: only POST, though /v1/keys/{id} would match it too.
        let other = try await node.http("GET", "/v1/keys/import")
        #expect(other.status == 405)
        #expect(other.header("Allow") == "POST")
        try await node.stop()
    }

    /// The CLI cuts a file into requests and numbers lines as the file does, across requests.
    @Test func theCLIImportsAFileInPiecesAndReportsRefusedLinesByTheirNumberInTheFile() async throws {
        let gatehouse = try #require(Subprocess.gatehouseExecutable(), "the gatehouse executable is built next to the tests")
        let node = try await TestNode.start()
        var lines = (1...25).map { #"{"owner": "acct_\#($0)"}"# }
        lines[16] = #"{"owner": "acct_17", "limits": "many"}"#
        lines[20] = ""
        let result = try await Subprocess.run(
            gatehouse, ["keys", "import", "-", "--url", node.httpBase, "--admin-token", TestNode.adminToken, "--batch", "10"],
            input: lines.joined(separator: "\n") + "\n")
        #expect(result.status == 1, "one refused line makes the exit status 1: \(result.error)")
        #expect(result.error.contains("line 17: invalid_field (limits)"), "\(result.error)")
        #expect(result.error.contains("imported 23, refused 1"), "\(result.error)")
        let printed = result.output.split(separator: "\n").map { $0.split(separator: "\t") }
        #expect(printed.count == 23)
        #expect(printed.map { Int($0[0]) } == (1...25).filter { $0 != 17 && $0 != 21 }.map { Optional($0) })
        let secret = try #require(printed.last.map { String($0[2]) })
        let verified = try await node.http("POST", "/v1/verify", json: ["key": secret], token: nil)
        #expect(verified.object["owner"] as? String == "acct_25")
        // --json: the whole answer as one document, lines numbered as in the file.
        let json = try await Subprocess.run(
            gatehouse, ["keys", "import", "-", "--url", node.httpBase, "--admin-token", TestNode.adminToken, "--batch", "10", "--json"],
            input: lines.map { $0.replacingOccurrences(of: "acct_", with: "json_") }.joined(separator: "\n") + "\n")
        let document = try #require(try JSONSerialization.jsonObject(with: Data(json.output.utf8)) as? [String: Any], "\(json.output)")
        #expect(document["imported"] as? Int == 23 && document["refused"] as? Int == 1)
        let results = try #require(document["results"] as? [[String: Any]])
        #expect(results.compactMap { $0["line"] as? Int } == (1...25).filter { $0 != 21 })
        #expect(results.filter { $0["key"] is String && $0["id"] is String }.count == 23)
        #expect((results.first { $0["line"] as? Int == 17 }?["error"] as? [String: Any])?["field"] as? String == "limits")
        try await node.stop()
    }

    /// A node whose import requests take at most 2 KiB: ten lines of 250 bytes are refused whole.
    static func startWithSmallBodies() async throws -> TestNode {
        try await TestNode.start { config in
            config.maxBodyBytes = 1_024
            config.maxImportBodyBytes = 2_048
        }
    }

    /// Lines 1–10 fit a small node's import request; lines 11–20 together do not.
    static func tenShortThenTenLongLines() -> (short: [String], long: [String]) {
        ((1...10).map { #"{"owner": "acct_\#($0)"}"# },
         (11...20).map { #"{"owner": "acct_\#($0)", "name": "\#(String(repeating: "n", count: 250))"}"# })
    }

    /// A piece the node refuses whole stops the import, and the CLI says where to resume.
    @Test func theCLISaysWhereToResumeWhenAPieceIsRefused() async throws {
        let gatehouse = try #require(Subprocess.gatehouseExecutable(), "the gatehouse executable is built next to the tests")
        let node = try await Self.startWithSmallBodies()
        let (short, long) = Self.tenShortThenTenLongLines()
        let result = try await Subprocess.run(
            gatehouse, ["keys", "import", "-", "--url", node.httpBase, "--admin-token", TestNode.adminToken, "--batch", "10"],
            input: (short + long).joined(separator: "\n") + "\n")
        #expect(result.status != 0)
        #expect(result.error.contains("HTTP 413"), "\(result.error)")
        #expect(result.error.contains("10 keys were imported"), "\(result.error)")
        #expect(result.error.contains("lines 11 to the end may not have been imported"), "\(result.error)")
        #expect(result.output.split(separator: "\n").count == 10)
        try await node.stop()
    }

    /// With two requests in flight, a piece refused in the middle may have a later piece
    /// imported beside it: its secrets are printed all the same, and the CLI names exactly
    /// the lines it cannot vouch for.
    @Test func aPieceRefusedBetweenImportedOnesIsNamedAndTheOthersSecretsArePrinted() async throws {
        let gatehouse = try #require(Subprocess.gatehouseExecutable(), "the gatehouse executable is built next to the tests")
        let node = try await Self.startWithSmallBodies()
        let (short, long) = Self.tenShortThenTenLongLines()
        let after = (21...30).map { #"{"owner": "acct_\#($0)"}"# }
        let result = try await Subprocess.run(
            gatehouse, ["keys", "import", "-", "--url", node.httpBase, "--admin-token", TestNode.adminToken, "--batch", "10", "--parallel", "2"],
            input: (short + long + after).joined(separator: "\n") + "\n")
        #expect(result.status != 0)
        let printed = result.output.split(separator: "\n").map { $0.split(separator: "\t") }
        let lines = printed.compactMap { Int($0[0]) }
        // The third piece went out beside the refused one, or was never sent once the refusal was read.
        #expect(lines == Array(1...10) || lines == Array(1...10) + Array(21...30), "\(lines)")
        #expect(result.error.contains("\(lines.count) keys were imported"), "\(result.error)")
        let named = lines.count == 20 ? "lines 11–20 may not have been imported" : "lines 11 to the end may not have been imported"
        #expect(result.error.contains(named), "\(result.error)")
        for row in printed {
            let verified = try await node.http("POST", "/v1/verify", json: ["key": String(row[2])], token: nil)
            #expect(verified.object["code"] as? String == "VALID")
        }
        let held = try await node.http("GET", "/v1/keys?limit=100")
        #expect((held.object["keys"] as? [Any])?.count == lines.count, "every imported key had its secret printed")
        try await node.stop()
    }

    /// Only a request that opens with the import's request line may be as large as an import;
    /// the next request on the connection has the ordinary cap again.
    @Test func onlyAnImportRequestMayBeLarge() {
        var machine = HTTPConnectionStateMachine(settings: ConnectionSettings(), maxRequestBytes: 1_000, maxImportRequestBytes: 10_000, openedAt: 0)
        #expect(machine.bytesRead(900, opening: Array("POST /v1/keys/import HTTP/1.1".utf8), at: 1) == .none)
        #expect(machine.bytesRead(9_000, at: 2) == .none)
        machine.responseWritten(at: 3)
        #expect(machine.bytesRead(900, opening: Array("POST /v1/keys HTTP/1.1".utf8), at: 4) == .none)
        #expect(machine.bytesRead(200, at: 5) == .close(.requestTooLarge))
        var other = HTTPConnectionStateMachine(settings: ConnectionSettings(), maxRequestBytes: 1_000, maxImportRequestBytes: 10_000, openedAt: 0)
        #expect(other.bytesRead(1_100, opening: Array("POST /v1/keys/imports HTTP/1.1".utf8), at: 1) == .close(.requestTooLarge))
    }

    /// A store that fails every write, to show an import is all or nothing per batch.
    private final class FailingStorage: KeyStorage {
        func loadRecords() throws -> [KeyRecord] { [] }
        func loadCreditUsage() throws -> [String: Gatekeeper.CreditUsage] { [:] }
        func save(_ record: KeyRecord) throws { throw CocoaError(.fileWriteOutOfSpace) }
        func save(_ records: [KeyRecord]) throws { throw CocoaError(.fileWriteOutOfSpace) }
        func saveUsage(_ changes: [(record: KeyRecord, creditUsage: Gatekeeper.CreditUsage?)]) throws {}
        func save(_ records: [KeyRecord], audit: [AuditEntry]) throws { throw CocoaError(.fileWriteOutOfSpace) }
        func insertAudit(_ entries: [AuditEntry]) throws -> [AuditEntry] { throw CocoaError(.fileWriteOutOfSpace) }
        func queryAudit(_ query: AuditQuery) throws -> [AuditEntry] { [] }
        func auditEntries(inHour hour: Int64, offset: Int, limit: Int) throws -> [AuditEntry] { [] }
        func loadAuditDigest() throws -> AuditDigest { AuditDigest() }
        func pruneAudit(before cutoffMs: Int64) throws -> Int { 0 }
    }

    @Test func aFailedWriteImportsNothingAndTheListenerHearsNothing() throws {
        let keys = try KeyService(
            nodeID: "n1", hasher: LookupHasher(pepper: Array(repeating: 5, count: 32)), settings: .init(),
            defaultLimits: [.defaultHourly], defaultPrefix: "gk", storage: FailingStorage(),
            now: { 1_800_000_000_000 }, logger: Logger(label: "test"))
        let heard = LockedBox(0)
        keys.onLocalWrites { records in heard.withLock { $0 += records.count } }
        let outcomes = keys.importKeys([
            KeyImportEntry(draft: KeyDraft(owner: "a"), secret: .key("legacy-key-0123456789abcdef")),
            KeyImportEntry(draft: KeyDraft(owner: "b"), secret: .generated),
        ])
        for outcome in outcomes {
            guard case .refused(.storage) = outcome else {
                Issue.record("expected a storage refusal, got \(outcome)")
                continue
            }
        }
        #expect(keys.keyCount == 0)
        #expect(heard.withLock { $0 } == 0)
        #expect(keys.verify(key: "legacy-key-0123456789abcdef", VerifyRequest()).code == .malformed)
    }

    @Test func oneImportIsOneBatchForReplication() throws {
        let keys = try KeyService(
            nodeID: "n1", hasher: LookupHasher(pepper: Array(repeating: 5, count: 32)), settings: .init(),
            defaultLimits: [.defaultHourly], defaultPrefix: "gk", storage: InMemoryKeyStorage(),
            now: { 1_800_000_000_000 }, logger: Logger(label: "test"))
        let batches = LockedBox<[Int]>([])
        keys.onLocalWrites { records in batches.withLock { $0.append(records.count) } }
        let entries = (0..<1_000).map { KeyImportEntry(draft: KeyDraft(owner: "acct_\($0)"), secret: .generated) }
        let outcomes = keys.importKeys(entries)
        #expect(batches.withLock { $0 } == [1_000])
        #expect(keys.keyCount == 1_000)
        let secrets = outcomes.compactMap { outcome -> String? in
            if case .imported(_, let secret) = outcome { return secret }
            return nil
        }
        #expect(secrets.count == 1_000)
        #expect(secrets.allSatisfy { keys.verify(key: $0, VerifyRequest()).code == .valid })
    }
}
