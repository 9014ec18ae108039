import Foundation

/// The machine a run was measured on.
struct MachineInfo: Codable, Sendable {
    var cores: Int
    var memoryBytes: UInt64
    var cpuModel: String
    var os: String

    static func current() -> MachineInfo {
        let cpuinfo = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        let model = cpuinfo.split(separator: "\n").first { $0.hasPrefix("model name") }
            .flatMap { $0.split(separator: ":", maxSplits: 1).last }
            .map { $0.trimmingCharacters(in: .whitespaces) } ?? "unknown"
        return MachineInfo(
            cores: ProcessInfo.processInfo.activeProcessorCount,
            memoryBytes: ProcessInfo.processInfo.physicalMemory,
            cpuModel: model,
            os: ProcessInfo.processInfo.operatingSystemVersionString)
    }

    enum CodingKeys: String, CodingKey {
        case cores
        case memoryBytes = "memory_bytes"
        case cpuModel = "cpu_model"
        case os
    }
}

/// What was measured: the source commit and how the pieces were built.
struct BuildInfo: Codable, Sendable {
    var gitCommit: String
    /// How this load generator was compiled.
    var benchConfiguration: String
    /// How the server under load was built, as the caller says (`--server-build`).
    var serverBuild: String

    static func current(serverBuild: String) -> BuildInfo {
        #if DEBUG
        let configuration = "debug"
        #else
        let configuration = "release"
        #endif
        return BuildInfo(gitCommit: gitCommit() ?? "unknown", benchConfiguration: configuration, serverBuild: serverBuild)
    }

    /// `git rev-parse HEAD` in the working directory, if it is a checkout.
    private static func gitCommit() -> String? {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["git", "rev-parse", "HEAD"]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return nil }
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { return nil }
        let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return text.isEmpty ? nil : text
    }

    enum CodingKeys: String, CodingKey {
        case gitCommit = "git_commit"
        case benchConfiguration = "bench_configuration"
        case serverBuild = "server_build"
    }
}
