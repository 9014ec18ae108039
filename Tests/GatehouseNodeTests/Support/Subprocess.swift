import Foundation

/// Runs a command line tool to completion, with a time limit, and returns its output.
///
/// `run` waits on a thread of its own, never on the cooperative pool: the pool has one
/// thread per core (two here), and a test blocking them leaves none to the in-process nodes
/// every other test is talking to.
enum Subprocess {
    struct Result {
        var status: Int32
        var output: String
        var error: String
    }

    static func run(_ executable: String, _ arguments: [String], input: String? = nil, timeout: Double = 30) async throws -> Result {
        try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread {
                continuation.resume(with: Swift.Result { try runBlocking(executable, arguments, input: input, timeout: timeout) })
            }
        }
    }

    /// `run` on the caller's thread: only for callers that cannot wait, such as a test
    /// trait's condition.
    static func runBlocking(_ executable: String, _ arguments: [String], input: String? = nil, timeout: Double = 30) throws -> Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let output = Pipe()
        let error = Pipe()
        process.standardOutput = output
        process.standardError = error
        let stdin = Pipe()
        process.standardInput = stdin
        try process.run()
        if let input { stdin.fileHandleForWriting.write(Data(input.utf8)) }
        try? stdin.fileHandleForWriting.close()
        // A watchdog enforces the time limit: reading to end of file below only returns once
        // the child has exited, so a hung child must be killed from elsewhere.
        let pid = process.processIdentifier
        let watchdog = DispatchWorkItem { kill(pid, SIGKILL) }
        DispatchQueue.global().asyncAfter(deadline: .now() + timeout, execute: watchdog)
        let outData = readToEndOfFile(output.fileHandleForReading)
        let errData = readToEndOfFile(error.fileHandleForReading)
        process.waitUntilExit()
        watchdog.cancel()
        return Result(status: process.terminationStatus, output: String(decoding: outData, as: UTF8.self), error: String(decoding: errData, as: UTF8.self))
    }

    /// Everything `handle` yields until end of file, reading again when a signal interrupts
    /// a read: Foundation's `readDataToEndOfFile` traps on `EINTR` (seen in CI, with many
    /// children starting and exiting around the test process).
    static func readToEndOfFile(_ handle: FileHandle) -> Data {
        var data = Data()
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(handle.fileDescriptor, $0.baseAddress, $0.count) }
            if count > 0 {
                data.append(contentsOf: buffer[0..<count])
            } else if count < 0 && errno == EINTR {
                continue
            } else {
                return data
            }
        }
    }

    /// A tool as the shell would find it: on `PATH` first (so `python3` is the one pip
    /// installed into), then in the usual system folders.
    static func locate(_ name: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"]?.split(separator: ":").map(String.init) ?? []
        for directory in path + ["/usr/bin", "/usr/local/bin", "/bin"] where FileManager.default.isExecutableFile(atPath: "\(directory)/\(name)") {
            return "\(directory)/\(name)"
        }
        return nil
    }

    /// The `gatehouse` executable built next to the test bundle.
    static func gatehouseExecutable() -> String? {
        builtExecutable(named: "gatehouse")
    }

    /// An executable product of this package, built next to the test bundle.
    static func builtExecutable(named name: String) -> String? {
        var candidates: [String] = []
        let bundleDirectory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        candidates.append(bundleDirectory.appendingPathComponent(name).path)
        candidates.append(bundleDirectory.deletingLastPathComponent().appendingPathComponent(name).path)
        candidates.append(packageRoot.appendingPathComponent(".build/debug/\(name)").path)
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// The checkout this test file is in.
    static var packageRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }
}
