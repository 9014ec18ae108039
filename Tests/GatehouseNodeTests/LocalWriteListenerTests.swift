import GatehouseCore
@testable import GatehouseNode
import Logging
import Synchronization
import Testing

/// The replication hook hears every local write, however many there are: a function value
/// kept behind a lock used to grow two reabstraction thunks per access, so the call after
/// some ten thousand writes overflowed the stack and took the node down (found by the
/// 10,000-key cluster bench).
@Suite("Local write listener")
struct LocalWriteListenerTests {
    @Test(.timeLimit(.minutes(5)))
    func theListenerHearsEveryOneOfManyWritesWithoutGrowing() async throws {
        let keys = try KeyService(
            nodeID: "n1", hasher: LookupHasher(pepper: Array(repeating: 5, count: 32)), settings: .init(),
            defaultLimits: [.defaultHourly], defaultPrefix: "gk", storage: InMemoryKeyStorage(),
            now: { 1_800_000_000_000 }, logger: Logger(label: "test"))
        let heard = Atomic<Int>(0)
        keys.onLocalWrites { records in heard.add(records.count, ordering: .relaxed) }
        let (created, _) = try await keys.create(KeyDraft(name: "edited", owner: "acct", scopes: ["read"]))

        // Twice the count that overflowed; each write waits for its commit on the service's
        // queue, ~0.2 ms alone in a debug build and ten times that with the whole suite running.
        let edits = 20_000
        for edit in 0..<edits {
            _ = try await keys.update(id: created.id, KeyChanges(name: "edit \(edit)"))
        }

        #expect(heard.load(ordering: .relaxed) == edits + 1)
        #expect(keys.key(id: created.id)?.record.name == "edit \(edits - 1)")
    }
}
