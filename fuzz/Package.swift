// swift-tools-version:6.1
// Coverage-guided fuzz targets (libFuzzer) for every parser that reads network bytes.
// Build and run them with `fuzz/run` (see fuzz/README.md), not with a bare `swift build`.
//
// The parser modules are the main package's own sources (`Sources/Gatehouse*` here are
// symlinks to `../Sources/...`), compiled a second time with libFuzzer's coverage
// instrumentation; their dependencies (NIO, swift-crypto) are built plain, so only our
// code steers the fuzzer and the build stays short. The HTTP target compiles the request
// models (`HTTPModels.swift`, `JSONCoding.swift`) straight into itself, with a stand-in
// for the Hummingbird-bound `APIError`.
import PackageDescription

/// Coverage instrumentation (and AddressSanitizer) for the code under test.
let instrumented: [SwiftSetting] = [
    .unsafeFlags(["-sanitize=fuzzer,address"]),
]

/// An executable whose `main` is libFuzzer's.
func fuzzTarget(_ name: String, _ dependencies: [Target.Dependency]) -> Target {
    .executableTarget(
        name: name,
        dependencies: dependencies + ["FuzzSupport"],
        swiftSettings: instrumented + [.unsafeFlags(["-parse-as-library"])],
        linkerSettings: [.unsafeFlags(["-sanitize=fuzzer,address"])]
    )
}

let nio = Target.Dependency.product(name: "NIOCore", package: "swift-nio")

let package = Package(
    name: "gatehouse-fuzz",
    platforms: [.macOS(.v14)],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.3"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "3.12.3"),
    ],
    targets: [
        // OpenSSL's libcrypto for the lookup hash, as in the main package.
        .systemLibrary(name: "COpenSSLCrypto", pkgConfig: "libcrypto", providers: [.apt(["libssl-dev"])]),
        .target(
            name: "GatehouseCore",
            dependencies: ["COpenSSLCrypto", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: instrumented
        ),
        .target(name: "GatehouseMembership", dependencies: ["GatehouseCore"], swiftSettings: instrumented),
        .target(name: "GatehouseWire", dependencies: ["GatehouseCore", "GatehouseMembership", nio], swiftSettings: instrumented),
        .target(name: "CFuzzDriver"),
        .target(name: "FuzzSupport", dependencies: ["CFuzzDriver", "GatehouseCore", "GatehouseMembership", "GatehouseWire", nio]),
        fuzzTarget("resp-command", ["GatehouseWire", nio]),
        fuzzTarget("resp-value", ["GatehouseWire", nio]),
        fuzzTarget("cluster-envelope", ["GatehouseCore", "GatehouseMembership", "GatehouseWire", nio]),
        fuzzTarget("gossip-message", ["GatehouseMembership", "GatehouseWire", nio]),
        fuzzTarget("data-stream", ["GatehouseCore", "GatehouseMembership", "GatehouseWire", nio]),
        fuzzTarget("key-record", ["GatehouseCore", "GatehouseWire", nio]),
        fuzzTarget("http-json", ["GatehouseCore", "GatehouseMembership"]),
        // Writes fuzz/corpus from our encoders (`fuzz/run seeds`).
        fuzzTarget("make-seeds", ["GatehouseCore", "GatehouseMembership", "GatehouseWire", nio]),
    ],
    swiftLanguageModes: [.v6]
)
