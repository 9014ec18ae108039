import Foundation
import FuzzSupport
import GatehouseCore
import GatehouseMembership
import GatehouseWire
import NIOCore

/// The sealed envelope every cluster message travels in, on both planes: a UDP datagram is
/// one sealed message; a data stream is length-prefixed sealed frames. Garbage must fail to
/// open, cleanly; whatever opens (seeds are frames sealed with the fixture keyring) is routed
/// by its `[version][kind]` header to the decoder the node would use.
///
/// Properties: open(seal(x)) == x for the input as plaintext; a sealed message with any one
/// byte changed does not open.

let keyring = Fixtures.keyring
let streamLimits = DataStreamLimits.default

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    guard let start else { return 0 }
    let input = UnsafeBufferPointer(start: start, count: count)

    // A datagram.
    if let plaintext = try? keyring.open(input) {
        route(ByteBuffer(bytes: plaintext), decoder: nil)
    }

    // A data stream.
    var stream = ByteBuffer(bytes: input)
    var decoder = DataStreamDecoder(limits: streamLimits)
    var frames = 0
    while frames < 32, let frame = try? LengthPrefixedFrameDecoder.nextFrame(&stream, maxFrameBytes: streamLimits.maxFrameBytes + ClusterKeyring.overhead) {
        frames += 1
        guard let plaintext = try? keyring.open(frame.readableBytesView) else { continue }
        route(ByteBuffer(bytes: plaintext), decoder: &decoder)
    }

    // The seal itself.
    var random = FuzzRandom(seed: UInt64(count))
    var sealed = keyring.seal(Array(input), using: &random)
    do {
        let opened = try keyring.open(sealed)
        fuzzCheck(opened.elementsEqual(input), "open(seal(x)) != x")
    } catch {
        fuzzCheck(false, "a message just sealed does not open: \(error)")
    }
    let position = Int(random.next() % UInt64(sealed.count))
    sealed[position] ^= UInt8(truncatingIfNeeded: random.next() | 1)
    fuzzCheck((try? keyring.open(sealed)) == nil, "a sealed message with byte \(position) changed still opens")
    return 0
}

func route(_ plaintext: ByteBuffer, decoder: UnsafeMutablePointer<DataStreamDecoder>?) {
    guard let kind = plaintext.getClusterHeader(at: plaintext.readerIndex) else { return }
    switch kind {
    case .pushPullRequest, .pushPullResponse:
        _ = try? GossipCodec.decodeSnapshot(plaintext)
    case _ where kind.isDataPlane:
        if let decoder { _ = try? decoder.pointee.decode(plaintext) }
    default:
        _ = try? GossipCodec.decode(plaintext)
    }
}

/// `main`, as SwiftPM links it: libFuzzer's driver with `fuzzOne` as the target.
@_cdecl("cluster_envelope_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    runFuzzer(argc, argv, fuzzOne)
}
