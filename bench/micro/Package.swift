// swift-tools-version:6.1
import PackageDescription

/// Micro-benchmarks of Gatehouse's hot path (ordo-one/benchmark): throughput, latency and
/// mallocs per operation. Run: `cd bench/micro && swift package benchmark`.
let package = Package(
    name: "gatehouse-micro",
    platforms: [.macOS(.v14)],
    dependencies: [
        .package(name: "gatehouse", path: "../.."),
        .package(url: "https://github.com/ordo-one/benchmark.git", from: "1.38.1", traits: ["MallocInterposer"]),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.3"),
    ],
    targets: [
        .executableTarget(
            name: "GatehouseMicro",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "GatehouseCore", package: "gatehouse"),
                .product(name: "GatehouseWire", package: "gatehouse"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            path: "Benchmarks/GatehouseMicro",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        )
    ],
    swiftLanguageModes: [.v6]
)
