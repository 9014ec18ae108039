import FuzzSupport
import GatehouseCore
import GatehouseMembership
import GatehouseWire
import NIOCore

/// One data-plane stream as the receiving node reads it: the TCP bytes split into frames by
/// the length prefix, each frame's plaintext (the seal is `cluster-envelope`'s business)
/// fed in order to one stateful `DataStreamDecoder`. Limits are small so that the caps (frame
/// size, records, ids, slots, and the bucket dictionary filling up) are all within reach.
///
/// Properties: a frame that fails leaves the dictionary as it was; every frame that
/// decodes, re-encoded by a fresh encoder on a mirror stream and decoded there, gives the
/// same message (so the dictionary, window deltas and resets agree end to end).

let limits = DataStreamLimits(maxFrameBytes: 8_192, maxRecordsPerFrame: 4, maxIDsPerFrame: 8, maxSlotsPerFrame: 6, maxBucketIDs: 10)

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    guard let start else { return 0 }
    var stream = fuzzBuffer(start, count)
    var decoder = DataStreamDecoder(limits: limits)
    var mirrorEncoder = DataStreamEncoder(limits: limits)
    var mirrorDecoder = DataStreamDecoder(limits: limits)
    var frames = 0
    while frames < 64 {
        let frame: ByteBuffer?
        do {
            frame = try LengthPrefixedFrameDecoder.nextFrame(&stream, maxFrameBytes: limits.maxFrameBytes)
        } catch {
            fuzzCheck(error.length > limits.maxFrameBytes, "frame of \(error.length) bytes refused")
            break
        }
        guard let frame else { break }
        frames += 1
        let bucketsBefore = decoder.definedBuckets
        let message: DataMessage
        do {
            message = try decoder.decode(frame)
        } catch {
            fuzzCheck(decoder.definedBuckets == bucketsBefore, "a failed frame changed the dictionary: \(bucketsBefore) → \(decoder.definedBuckets)")
            continue
        }
        fuzzCheck(decoder.definedBuckets <= limits.maxBucketIDs, "dictionary over its cap")
        let encoded = mirrorEncoder.encode(message)
        do {
            let again = try mirrorDecoder.decode(encoded)
            fuzzCheck(again == message, "frame changed through the mirror stream: \(message) became \(again)")
        } catch {
            fuzzCheck(false, "mirror stream refused a re-encoded frame \(message): \(error)")
        }
    }
    return 0
}

/// `main`, as SwiftPM links it: libFuzzer's driver with `fuzzOne` as the target.
@_cdecl("data_stream_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    runFuzzer(argc, argv, fuzzOne)
}
