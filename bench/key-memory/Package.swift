// swift-tools-version:6.1
import PackageDescription

/// Where the memory and start-up time of a node's keys go: loads a data directory (as
/// `bench/million-keys --keep-data` leaves one) through the node's own code and reports heap
/// bytes in use (glibc `mallinfo2`) per structure. Linux only.
/// Run: `cd bench/key-memory && swift run -c release key-memory /tmp/million-keys-…/data`.
let package = Package(
    name: "gatehouse-key-memory",
    platforms: [.macOS(.v14)],
    dependencies: [
        .package(name: "gatehouse", path: "../.."),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.3"),
    ],
    targets: [
        .target(name: "CMallinfo"),
        .executableTarget(
            name: "key-memory",
            dependencies: [
                "CMallinfo",
                .product(name: "GatehouseCore", package: "gatehouse"),
                .product(name: "GatehouseNode", package: "gatehouse"),
                .product(name: "GatehouseWire", package: "gatehouse"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            path: "Sources/KeyMemory"
        ),
    ],
    swiftLanguageModes: [.v6]
)
