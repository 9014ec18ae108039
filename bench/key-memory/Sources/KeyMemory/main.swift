import CMallinfo
import Foundation
import GRDB
import GatehouseCore
import GatehouseNode
import GatehouseWire
import NIOCore

// key-memory DATA_DIR: what a node's keys cost. Heap figures are bytes in use by malloc
// (mallinfo2) before and after each step, so they count every allocation a structure owns.

func heapInUse() -> Int { Int(key_memory_heap_in_use()) }

func residentBytes() -> Int {
    let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
    for line in status.split(separator: "\n") where line.hasPrefix("VmRSS:") {
        return (Int(line.split(separator: " ")[1]) ?? 0) * 1024
    }
    return 0
}

func seconds(_ duration: Duration) -> String {
    let (whole, atto) = duration.components
    return String(format: "%.2f s", Double(whole) + Double(atto) / 1e18)
}

var keyCount = 1
@MainActor func row(_ label: String, _ bytes: Int) {
    let mib = Double(bytes) / 1_048_576
    print("| \(label) | \(String(format: "%.1f", mib)) | \(String(format: "%.0f", Double(bytes) / Double(keyCount))) |")
}

/// Heap growth while `body` builds something that is kept.
func measure<T>(_ body: () throws -> T) rethrows -> (T, Int) {
    let before = heapInUse()
    let value = try body()
    return (value, heapInUse() - before)
}

let usage = """
    usage: key-memory DATA_DIR                 (a gatehouse data directory)
           key-memory --generate N DATA_DIR    (first writes N keys shaped as bench/million-keys makes them)

    """
let arguments = Array(CommandLine.arguments.dropFirst())
guard arguments.count == 1 || (arguments.count == 3 && arguments[0] == "--generate" && Int(arguments[1]) != nil) else {
    FileHandle.standardError.write(Data(usage.utf8))
    exit(64)
}
let directory = arguments.last!
let clock = ContinuousClock()
// Memory and time do not depend on the pepper; verify answers would.
let hasher = LookupHasher(pepper: Array(repeating: 7, count: 32))

if arguments.count == 3 {
    try generate(count: Int(arguments[1])!, into: directory)
}

/// Writes `count` keys as `bench/million-keys` creates them through the API (2 scopes, one
/// hourly limit, no meta), in batches, straight through the node's storage: a data directory
/// in seconds instead of minutes of HTTP. The secrets are not kept.
func generate(count: Int, into directory: String) throws {
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    let storage = try SQLiteKeyStorage(directory: directory)
    var generator = SystemRandomNumberGenerator()
    let draft = KeyDraft(
        name: "mk", owner: "bench", scopes: ["read", "orders:*"],
        limits: [RateLimit(name: "hour", limit: 1_000_000_000, windowMs: 3_600_000)])
    let nowMs = Int64(Date().timeIntervalSince1970 * 1000)
    var batch: [KeyRecord] = []
    for made in 0..<count {
        let version = HybridTimestamp(wallMs: nowMs, logical: UInt32(made), node: "key-memory")
        batch.append(try KeyLifecycle.create(draft, defaultLimits: [], hasher: hasher, nowMs: nowMs, version: version, using: &generator).record)
        if batch.count == 10_000 || made == count - 1 {
            try storage.save(batch)
            batch.removeAll(keepingCapacity: true)
        }
    }
    print("generated \(count) keys in \(directory)")
}

// 1. What a node does at start (KeyService.init): storage.forEachRecord → Gatekeeper.apply.
let residentBefore = residentBytes()
var started = clock.now
var (gatekeeper, gatekeeperBytes): (Gatekeeper?, Int) = try measure {
    var gatekeeper = Gatekeeper(hasher: hasher)
    let storage = try SQLiteKeyStorage(directory: directory)
    gatekeeper.reserveCapacity(try storage.recordCount())
    try storage.forEachRecord { gatekeeper.apply($0) }
    return gatekeeper
}
let loadTime = clock.now - started
keyCount = max(1, gatekeeper!.keyCount)
let residentGrowth = residentBytes() - residentBefore
let structures = gatekeeper!.indexMemoryReport
let sharedValues = gatekeeper!.indexSharedValueCounts
gatekeeper = nil

// 2. The parts of that time: reading the rows, decoding them on one thread, indexing them.
let database = try DatabaseQueue(path: "\(directory)/\(SQLiteKeyStorage.fileName)")
started = clock.now
var blobs: [Data]? = try database.read { db in try Data.fetchAll(db, sql: "SELECT data FROM key_log ORDER BY seq") }
let readTime = clock.now - started
started = clock.now
var records: [KeyRecord] = []
records.reserveCapacity(blobs!.count)
for blob in blobs! { records.append(try KeyRecordCodec.decode(ByteBuffer(bytes: blob))) }
let decodeTime = clock.now - started
blobs = nil
started = clock.now
var indexed = Gatekeeper(hasher: hasher)
indexed.reserveCapacity(records.count)
for record in records { indexed.apply(record) }
let applyTime = clock.now - started
indexed = Gatekeeper(hasher: hasher)

print("""
    \(keyCount) keys in \(directory)
    strides: KeyRecord \(MemoryLayout<KeyRecord>.stride) B, SlidingWindow \(MemoryLayout<SlidingWindow>.stride) B, \
    Gatekeeper.CreditUsage? \(MemoryLayout<Gatekeeper.CreditUsage?>.stride) B, LookupHash \(MemoryLayout<LookupHash>.stride) B

    start-up path (SQLiteKeyStorage.forEachRecord + Gatekeeper.apply, as KeyService.init): \(seconds(loadTime)) on \
    \(ProcessInfo.processInfo.activeProcessorCount) cores
    its parts, one thread: read rows \(seconds(readTime)), KeyRecordCodec \(seconds(decodeTime)), Gatekeeper.apply \(seconds(applyTime))

    | held for the keys | MiB | bytes/key |
    |---|---:|---:|
    """)
row("Gatekeeper after the start-up path (heap in use)", gatekeeperBytes)
row("  process VmRSS growth over the same step", residentGrowth)

// 3. The index's own account of its structures (capacities times element sizes: what the
// allocator holds besides is the difference to the heap figure above).
for (structure, bytes) in structures { row("  \(structure)", bytes) }
row("  the rest: shared values, counters and escrow slots, allocator overhead", gatekeeperBytes - structures.reduce(0) { $0 + $1.bytes })
print("\nshared values held once: \(sharedValues.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))")
withExtendedLifetime(records) {}
