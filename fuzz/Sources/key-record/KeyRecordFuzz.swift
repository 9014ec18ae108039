import FuzzSupport
import GatehouseCore
import GatehouseWire
import NIOCore

/// Key records in their binary form (`KeyRecordCodec`): what replication pushes between
/// nodes inside `records` frames, and what storage reads back.
///
/// Properties: a record that decodes encodes and decodes again to the same record, in no
/// more bytes than it came in (the encoding is canonical but for meta order); it respects
/// the shape caps the codec promises (scopes, limits, retired secrets, meta bytes).

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    guard let start else { return 0 }
    let bytes = fuzzBuffer(start, count)
    guard let record = try? KeyRecordCodec.decode(bytes) else { return 0 }
    fuzzCheck(record.scopes.count <= KeyRecordCodec.maxScopes, "too many scopes")
    fuzzCheck(record.limits.count <= KeyRecordCodec.maxLimits, "too many limits")
    fuzzCheck(record.retiredSecrets.count <= KeyRecordCodec.maxRetiredSecrets, "too many retired secrets")
    let metaBytes = record.meta.reduce(0) { $0 + $1.key.utf8.count + $1.value.utf8.count }
    fuzzCheck(metaBytes <= KeyRecordCodec.maxMetaBytes, "meta of \(metaBytes) bytes")
    let encoded = KeyRecordCodec.encode(record)
    fuzzCheck(encoded.readableBytes == bytes.readableBytes, "re-encoded in \(encoded.readableBytes) bytes, read from \(bytes.readableBytes)")
    do {
        let again = try KeyRecordCodec.decode(encoded)
        fuzzCheck(again == record, "record changed through re-encoding")
    } catch {
        fuzzCheck(false, "re-encoded record failed: \(error)")
    }
    // What the receiving node does first with a remote record: hold it to the rules of admin input.
    _ = try? KeyRules.validateName(record.name)
    _ = try? KeyRules.validateOwner(record.owner)
    _ = try? KeyRules.validateScopes(record.scopes)
    _ = try? KeyRules.validateLimits(record.limits)
    _ = try? KeyRules.validateMeta(record.meta)
    return 0
}

/// `main`, as SwiftPM links it: libFuzzer's driver with `fuzzOne` as the target.
@_cdecl("key_record_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    runFuzzer(argc, argv, fuzzOne)
}
