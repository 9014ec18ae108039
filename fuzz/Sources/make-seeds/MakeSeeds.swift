import Foundation
import FuzzSupport
import GatehouseCore
import GatehouseMembership
import GatehouseWire
import NIOCore

/// Writes the seed corpus, `fuzz/corpus/<target>/`, from our own encoders: valid frames of
/// every kind each target parses. Run by `fuzz/run seeds`; its output is committed.
///
/// Built like the fuzz targets (the parser modules it links are instrumented, so it must
/// link libFuzzer); it does its work in `LLVMFuzzerInitialize` and exits before fuzzing.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    0
}

@_cdecl("LLVMFuzzerInitialize")
public func initialize(_ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>) -> CInt {
    let arguments = CommandLine.arguments
    guard arguments.count >= 2 else {
        FileHandle.standardError.write(Data("usage: make-seeds <corpus-dir>\n".utf8))
        exit(2)
    }
    writeAll(to: URL(fileURLWithPath: arguments[1]))
    exit(0)
}

func write(_ target: String, _ name: String, _ bytes: some Sequence<UInt8>, root: URL) {
    let folder = root.appendingPathComponent(target)
    try! FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    try! Data(bytes).write(to: folder.appendingPathComponent(name))
}

func write(_ target: String, _ name: String, _ buffer: ByteBuffer, root: URL) {
    write(target, name, Array(buffer.readableBytesView), root: root)
}

func writeAll(to root: URL) {
    // resp-command: what clients send.
    let commands: [(String, String)] = [
        ("ping", "*1\r\n$4\r\nPING\r\n"),
        ("hello3", "*2\r\n$5\r\nHELLO\r\n$1\r\n3\r\n"),
        ("verify", "*2\r\n$6\r\nVERIFY\r\n$26\r\ngk_4xT9bQ2mR7wZ1pL8kV3nY6\r\n"),
        ("verify-options", "*12\r\n$6\r\nverify\r\n$7\r\ngk_abcd\r\n$5\r\nSCOPE\r\n$11\r\norders:read\r\n$5\r\nSCOPE\r\n$1\r\n*\r\n$4\r\nCOST\r\n$2\r\n25\r\n$2\r\nIP\r\n$9\r\n10.1.2.3\r\n$3\r\nRID\r\n$6\r\nreq-42\r\n"),
        ("throttle", "*4\r\n$8\r\nTHROTTLE\r\n$11\r\nlogin:alice\r\n$2\r\n10\r\n$5\r\n60000\r\n"),
        ("throttle-cost", "*6\r\n$8\r\nTHROTTLE\r\n$1\r\nb\r\n$1\r\n5\r\n$4\r\n1000\r\n$4\r\nCOST\r\n$1\r\n2\r\n"),
        ("inline", "VERIFY gk_abcd SCOPE orders:read\r\nPING\nTHROTTLE b 3 1000 COST 1\r\n"),
        ("pipeline", "*1\r\n$4\r\nPING\r\n*-1\r\n*0\r\n*3\r\n$6\r\nCLIENT\r\n$7\r\nSETNAME\r\n$3\r\napp\r\nQUIT\r\n"),
        ("auth-info", "*2\r\n$4\r\nAUTH\r\n$6\r\nsecret\r\n*1\r\n$4\r\nINFO\r\n*3\r\n$6\r\nCONFIG\r\n$3\r\nGET\r\n$1\r\n*\r\n"),
    ]
    for (name, text) in commands { write("resp-command", name, Array(text.utf8), root: root) }

    // resp-value: what servers answer, including ours.
    let replies: [(String, String)] = [
        ("simple", "+OK\r\n-ERR wrong\r\n:42\r\n:-7\r\n"),
        ("bulk", "$5\r\nhello\r\n$0\r\n\r\n$-1\r\n*-1\r\n"),
        ("resp3-scalars", "_\r\n#t\r\n#f\r\n,3.25\r\n,-inf\r\n,nan\r\n!9\r\nERR blob!\r\n=8\r\ntxt:abcd\r\n"),
        ("aggregates", "*3\r\n:1\r\n$1\r\na\r\n*1\r\n+x\r\n~2\r\n:1\r\n:2\r\n>2\r\n+message\r\n$3\r\nhey\r\n"),
        ("map-attribute", "%2\r\n+server\r\n+gatehouse\r\n+proto\r\n:3\r\n|1\r\n+ttl\r\n:3600\r\n$2\r\nok\r\n"),
    ]
    for (name, text) in replies { write("resp-value", name, Array(text.utf8), root: root) }
    var valid = VerifyAnswer(code: .valid)
    valid.keyID = Fixtures.record.id
    valid.owner = "acct_42"
    valid.scopes = ["orders:read"]
    valid.meta = ["team": "payments"]
    valid.limit = 100
    valid.remaining = 99
    valid.resetMs = 1_000
    valid.creditsRemaining = 7
    for version in [RESPVersion.v2, .v3] {
        var buffer = ByteBuffer()
        buffer.writeVerifyAnswer(valid, version)
        buffer.writeVerifyAnswer(VerifyAnswer(code: .notFound), version)
        write("resp-value", "verify-answers-v\(version.rawValue)", buffer, root: root)
    }

    // gossip-message: every membership message and both snapshots.
    for (index, message) in Fixtures.membershipMessages.enumerated() {
        write("gossip-message", "message-\(index)", GossipCodec.encode(message), root: root)
    }
    write("gossip-message", "snapshot-request", GossipCodec.encodeSnapshot(Fixtures.members, isResponse: false), root: root)
    write("gossip-message", "snapshot-response", GossipCodec.encodeSnapshot([], isResponse: true), root: root)

    // key-record.
    write("key-record", "full", KeyRecordCodec.encode(Fixtures.record), root: root)
    write("key-record", "bare", KeyRecordCodec.encode(Fixtures.bareRecord), root: root)

    // data-stream: the whole conversation on one stream, and each frame alone.
    let limits = DataStreamLimits(maxFrameBytes: 8_192, maxRecordsPerFrame: 4, maxIDsPerFrame: 8, maxSlotsPerFrame: 6, maxBucketIDs: 10)
    var encoder = DataStreamEncoder(limits: limits)
    var stream = ByteBuffer()
    for (index, message) in Fixtures.dataMessages.enumerated() {
        let frame = encoder.encode(message)
        stream.writeLengthPrefixedFrame(frame.readableBytesView)
        var alone = ByteBuffer()
        var fresh = DataStreamEncoder(limits: limits)
        alone.writeLengthPrefixedFrame(fresh.encode(message).readableBytesView)
        write("data-stream", "frame-\(index)", alone, root: root)
    }
    write("data-stream", "conversation", stream, root: root)

    // cluster-envelope: sealed datagrams, and a sealed data stream.
    var random = FuzzRandom(seed: 7)
    for (index, message) in Fixtures.membershipMessages.enumerated() {
        write("cluster-envelope", "datagram-\(index)", Fixtures.keyring.seal(Array(GossipCodec.encode(message).readableBytesView), using: &random), root: root)
    }
    write("cluster-envelope", "snapshot",
          Fixtures.keyring.seal(Array(GossipCodec.encodeSnapshot(Fixtures.members, isResponse: true).readableBytesView), using: &random), root: root)
    var sealedStream = ByteBuffer()
    var streamEncoder = DataStreamEncoder()
    for message in Fixtures.dataMessages {
        sealedStream.writeLengthPrefixedFrame(Fixtures.keyring.seal(Array(streamEncoder.encode(message).readableBytesView), using: &random))
    }
    write("cluster-envelope", "data-stream", sealedStream, root: root)

    // http-json: one body per endpoint, and the edges of each.
    let bodies: [(String, String)] = [
        ("create-full", #"{"prefix":"acme","name":"checkout","owner":"acct_42","scopes":["orders:read","orders:*"],"limits":[{"name":"per_second","limit":100,"window_ms":1000}],"credits":500,"meta":{"team":"payments"},"enabled":true,"expires_at":"2031-01-01T00:00:00Z"}"#),
        ("create-minimal", #"{}"#),
        ("create-edges", #"{"limits":[{"name":"a","limit":9223372036854775807,"window_ms":31622400000},{"name":"b","limit":1,"window_ms":1}],"credits":9223372036854775807,"expires_at":"9999-12-31T23:59:59.999Z"}"#),
        ("update", #"{"name":"renamed","scopes":[],"limits":[],"expires_at":null,"credits":null,"meta":{},"enabled":false}"#),
        ("update-set", #"{"owner":"acct_7","expires_at":"2030-06-01T12:30:00.250+02:00","credits":3}"#),
        ("rotate", #"{"grace_ms":86400000}"#),
        ("verify-cost", #"{"key":"gk_x","cost":9223372036854775807}"#),
        ("verify", #"{"key":"gk_4xT9bQ2mR7wZ1pL8kV3nY6aaaaaaaa","scopes":["orders:read"],"cost":2,"ip":"10.0.0.9","request_id":"r-1"}"#),
        ("unknown-field", #"{"scope":["typo"]}"#),
    ]
    for (name, text) in bodies { write("http-json", name, Array(text.utf8), root: root) }
}

/// `main`, as SwiftPM links it: libFuzzer's driver with `fuzzOne` as the target.
@_cdecl("make_seeds_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    runFuzzer(argc, argv, fuzzOne)
}
