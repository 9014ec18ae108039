import FuzzSupport
import GatehouseMembership
import GatehouseWire
import NIOCore

/// Membership datagrams and push-pull snapshots, as they come out of the envelope (the
/// fuzzer cannot forge the AEAD seal, so it is handed the plaintext the seal protects).
///
/// Properties: whatever decodes encodes back to the same bytes' meaning (decode → encode →
/// decode gives the same message), within the sizes the state machine plans with.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    guard let start else { return 0 }
    let bytes = fuzzBuffer(start, count)
    if let message = try? GossipCodec.decode(bytes) {
        let encoded = GossipCodec.encode(message)
        fuzzCheck(encoded.readableBytes == MembershipWireSize.message(message), "wire size \(encoded.readableBytes) vs planned \(MembershipWireSize.message(message))")
        do {
            let again = try GossipCodec.decode(encoded)
            fuzzCheck(again == message, "message changed through re-encoding: \(message) became \(again)")
        } catch {
            fuzzCheck(false, "re-encoded message failed: \(error)")
        }
    }
    if let snapshot = try? GossipCodec.decodeSnapshot(bytes) {
        let encoded = GossipCodec.encodeSnapshot(snapshot.members, isResponse: snapshot.isResponse)
        do {
            let again = try GossipCodec.decodeSnapshot(encoded)
            fuzzCheck(again.members == snapshot.members && again.isResponse == snapshot.isResponse, "snapshot changed through re-encoding")
        } catch {
            fuzzCheck(false, "re-encoded snapshot failed: \(error)")
        }
    }
    _ = bytes.getClusterHeader(at: bytes.readerIndex)
    return 0
}

/// `main`, as SwiftPM links it: libFuzzer's driver with `fuzzOne` as the target.
@_cdecl("gossip_message_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    runFuzzer(argc, argv, fuzzOne)
}
