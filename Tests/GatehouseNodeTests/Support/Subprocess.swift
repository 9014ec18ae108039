import Foundation
import GatehouseTestKit

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
        try await onOwnThread { Swift.Result { try runBlocking(executable, arguments, input: input, timeout: timeout) } }.get()
    }

    /// `run` on the caller's thread: only for callers that cannot wait, such as a test
    /// trait's condition.
    static func runBlocking(_ executable: String, _ arguments: [String], input: String? = nil, timeout: Double = 30) throws -> Result {
        let stdin = try PipeEnds.make()
        let stdout = try PipeEnds.make()
        let stderr = try PipeEnds.make()
        let child: ChildProcess
        do {
            child = try ChildProcess(
                executable: executable, arguments: arguments,
                standardInput: .descriptor(stdin.read), standardOutput: .descriptor(stdout.write), standardError: .descriptor(stderr.write))
        } catch {
            for descriptor in [stdin.read, stdin.write, stdout.read, stdout.write, stderr.read, stderr.write] { close(descriptor) }
            throw error
        }
        // The child has its copies; with ours closed, end of file comes when it exits.
        for descriptor in [stdin.read, stdout.write, stderr.write] { close(descriptor) }
        if let input { writeAll(Array(input.utf8), to: stdin.write) }
        close(stdin.write)
        // A watchdog enforces the time limit: reading to end of file below only returns once
        // the child has exited, so a hung child must be killed from elsewhere.
        let watchdog = DispatchWorkItem { child.signal(SIGKILL) }
        DispatchQueue.global().asyncAfter(deadline: .now() + timeout, execute: watchdog)
        let outData = readToEndOfFile(stdout.read)
        let errData = readToEndOfFile(stderr.read)
        close(stdout.read)
        close(stderr.read)
        let status = child.terminationStatus
        watchdog.cancel()
        return Result(status: status, output: String(decoding: outData, as: UTF8.self), error: String(decoding: errData, as: UTF8.self))
    }

    /// The two ends of a pipe, closed on exec (a child gets only the ends it is given, and
    /// `ChildProcess` closes the rest in the child anyway).
    private struct PipeEnds {
        var read: Int32
        var write: Int32

        static func make() throws -> PipeEnds {
            var ends: [Int32] = [0, 0]
            guard pipe(&ends) == 0 else { throw TestNodeError.unexpected("pipe failed: errno \(errno)") }
            for end in ends { _ = fcntl(end, F_SETFD, FD_CLOEXEC) }
            return PipeEnds(read: ends[0], write: ends[1])
        }
    }

    /// Writes `bytes` whole (a child that exits early without reading them is not an error:
    /// SIGPIPE is ignored in this process, so the write fails with EPIPE and stops).
    private static func writeAll(_ bytes: [UInt8], to descriptor: Int32) {
        _ = ignoreSIGPIPE
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
            if written > 0 {
                offset += written
            } else if written < 0 && errno == EINTR {
                continue
            } else {
                return
            }
        }
    }

    private static let ignoreSIGPIPE: Void = { signal(SIGPIPE, SIG_IGN) }()

    /// Everything `descriptor` yields until end of file, reading again when a signal interrupts
    /// a read: Foundation's `readDataToEndOfFile` traps on `EINTR` (seen in CI, with many
    /// children starting and exiting around the test process).
    static func readToEndOfFile(_ descriptor: Int32) -> Data {
        var data = Data()
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
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
