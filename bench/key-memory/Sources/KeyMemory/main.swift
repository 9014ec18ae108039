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

guard CommandLine.arguments.count == 2 else {
    FileHandle.standardError.write(Data("usage: key-memory DATA_DIR   (a gatehouse data directory)\n".utf8))
    exit(64)
}
let directory = CommandLine.arguments[1]
let clock = ContinuousClock()
// Memory and time do not depend on the pepper; verify answers would.
let hasher = LookupHasher(pepper: Array(repeating: 7, count: 32))

// 1. What a node does at start (KeyService.init): storage.forEachRecord → Gatekeeper.apply.
let residentBefore = residentBytes()
var started = clock.now
var (gatekeeper, gatekeeperBytes): (Gatekeeper?, Int) = try measure {
    var gatekeeper = Gatekeeper(hasher: hasher)
    try SQLiteKeyStorage(directory: directory).forEachRecord { gatekeeper.apply($0) }
    return gatekeeper
}
let loadTime = clock.now - started
keyCount = max(1, gatekeeper!.keyCount)
let residentGrowth = residentBytes() - residentBefore
gatekeeper = nil

// 2. The parts of that time: reading the rows, decoding them on one thread, indexing them.
let database = try DatabaseQueue(path: "\(directory)/\(SQLiteKeyStorage.fileName)")
started = clock.now
var blobs: [Data]? = try database.read { db in try Data.fetchAll(db, sql: "SELECT data FROM key_record") }
let readTime = clock.now - started
started = clock.now
var records: [KeyRecord] = []
records.reserveCapacity(blobs!.count)
for blob in blobs! { records.append(try KeyRecordCodec.decode(ByteBuffer(bytes: blob))) }
let decodeTime = clock.now - started
blobs = nil
started = clock.now
var indexed = Gatekeeper(hasher: hasher)
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

// 3. The same structures built one by one from the decoded records (the Gatekeeper's are
// private; these have its types and shapes).
let (recordSlots, recordBytes) = measure { () -> [KeyRecord] in
    var copy: [KeyRecord] = []
    for record in records { copy.append(record) }  // grown by appending, as Gatekeeper.records
    return copy
}
row("records: [KeyRecord] array, \(MemoryLayout<KeyRecord>.stride) B inline per record", recordBytes)
let (ids, idBytes) = measure { records.map { String(decoding: Array($0.id.utf8), as: UTF8.self) } }
row("  + each record's id String (26 B, on the heap; incl. 16 B array slot here)", idBytes)
let (scopes, scopeBytes) = measure { records.map { Array($0.scopes) + [] } }
row("  + each record's scopes array (incl. 8 B array slot here)", scopeBytes)
let (limits, limitBytes) = measure { records.map { Array($0.limits) + [] } }
row("  + each record's limits array (incl. 8 B array slot here)", limitBytes)
let (windows, windowBytes) = measure { () -> [[SlidingWindow]] in
    var windows: [[SlidingWindow]] = []
    for record in records { windows.append(record.limits.map { _ in SlidingWindow() }) }
    return windows
}
row("limitWindows: [[SlidingWindow]], one array per record", windowBytes)
struct LookupTarget { var slot: Int; var retiredUntil: Int64? }
let (byLookup, lookupBytes) = measure { () -> [LookupHash: LookupTarget] in
    var table: [LookupHash: LookupTarget] = [:]
    for (slot, record) in records.enumerated() { table[record.lookup] = LookupTarget(slot: slot, retiredUntil: nil) }
    return table
}
row("targetByLookup: [LookupHash: LookupTarget]", lookupBytes)
let (byID, idTableBytes) = measure { () -> [String: Int] in
    var table: [String: Int] = [:]
    for (slot, record) in records.enumerated() { table[record.id] = slot }
    return table
}
row("slotByID: [String: Int] (keys share the records' id Strings)", idTableBytes)
let (byOwner, ownerBytes) = measure { () -> [String: Set<String>] in
    var table: [String: Set<String>] = [:]
    for record in records { table[record.owner, default: []].insert(record.id) }
    return table
}
row("idsByOwner: [String: Set<String>]", ownerBytes)
let (perSlot, perSlotBytes) = measure { () -> ([Gatekeeper.CreditUsage?], [Bool]) in
    var credit: [Gatekeeper.CreditUsage?] = []
    var dirty: [Bool] = []
    for _ in records {
        credit.append(nil)
        dirty.append(false)
    }
    return (credit, dirty)
}
row("creditUsage [CreditUsage?] + counterDirty [Bool]", perSlotBytes)
withExtendedLifetime((recordSlots, ids, scopes, limits, windows, byLookup, byID, byOwner, perSlot)) {}
