import Foundation
import Synchronization

/// A child process started with `posix_spawn` and reaped by its PID, for tests that run
/// tools and nodes.
///
/// Not Foundation's `Process`: its `run` copies every `/proc/self/fd` entry's name as a
/// fixed 256 bytes, reading past the end of glibc's directory buffer, and that read crossed
/// into an unmapped page in a CI run (1,400 descriptors open). Here the child closes every
/// descriptor above the standard three before it executes, by glibc's own file action.
final class ChildProcess: Sendable {
    /// Where one of the child's standard streams goes.
    enum Stream: Sendable {
        /// `/dev/null`.
        case null
        /// A file, created or emptied.
        case file(String)
        /// A descriptor of this process (a pipe's end), duplicated onto the stream.
        case descriptor(Int32)
    }

    /// How the child ended.
    enum Ending: Equatable, Sendable {
        case exit(Int32)
        case signal(Int32)
    }

    let processIdentifier: pid_t
    private let ending = Mutex<Ending?>(nil)

    /// Starts `executable` with `arguments`; `environment` replaces this process's own when given.
    init(
        executable: String, arguments: [String], environment: [String: String]? = nil,
        standardInput: Stream = .null, standardOutput: Stream = .null, standardError: Stream = .null
    ) throws {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        for (stream, target) in [(standardInput, STDIN_FILENO), (standardOutput, STDOUT_FILENO), (standardError, STDERR_FILENO)] {
            switch stream {
            case .null:
                posix_spawn_file_actions_addopen(&actions, target, "/dev/null", target == STDIN_FILENO ? O_RDONLY : O_WRONLY, 0)
            case .file(let path):
                posix_spawn_file_actions_addopen(&actions, target, path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
            case .descriptor(let descriptor):
                posix_spawn_file_actions_adddup2(&actions, descriptor, target)
            }
        }
        _ = Self.closeFrom?(&actions, 3)

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // Its own process group (a signal to the test's group does not reach it), no blocked
        // signals and default handlers, whatever the spawning thread had.
        var none = sigset_t()
        sigemptyset(&none)
        var all = sigset_t()
        sigfillset(&all)
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setpgroup(&attributes, 0)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        let argv = ([executable] + arguments).map { strdup($0) }
        let variables = environment ?? ProcessInfo.processInfo.environment
        let envp = variables.map { strdup("\($0.key)=\($0.value)") }
        defer {
            for pointer in argv + envp { free(pointer) }
        }
        var pid = pid_t()
        let status = posix_spawn(&pid, executable, &actions, &attributes, argv + [nil], envp + [nil])
        guard status == 0 else {
            throw TestNodeError.unexpected("could not start \(executable): \(String(cString: strerror(status)))")
        }
        processIdentifier = pid
    }

    /// `posix_spawn_file_actions_addclosefrom_np` (glibc 2.34+), which Swift's Glibc module
    /// does not show: looked up by name.
    private static let closeFrom: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32)? = {
        guard let symbol = dlsym(nil, "posix_spawn_file_actions_addclosefrom_np") else { return nil }
        return unsafeBitCast(symbol, to: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32).self)
    }()

    /// Whether the child has not ended (reaping it when it has).
    var isRunning: Bool {
        if ending.withLock({ $0 }) != nil { return false }
        return reap(blocking: false) == nil
    }

    /// Waits until the child has ended. Blocks its thread: for after a kill, or off the
    /// cooperative pool.
    @discardableResult
    func waitUntilExit() -> Ending {
        while true {
            if let ended = reap(blocking: true) { return ended }
        }
    }

    /// The exit status, or 128 + the signal that ended it (as a shell reports it).
    var terminationStatus: Int32 {
        switch waitUntilExit() {
        case .exit(let code): code
        case .signal(let signal): 128 + signal
        }
    }

    /// Sends `signal` unless the child was reaped already (its PID may be another's by now).
    func signal(_ signal: Int32) {
        guard isRunning else { return }
        kill(processIdentifier, signal)
    }

    private func reap(blocking: Bool) -> Ending? {
        if let ended = ending.withLock({ $0 }) { return ended }
        var status: Int32 = 0
        let result = waitpid(processIdentifier, &status, blocking ? 0 : WNOHANG)
        if result == processIdentifier {
            let ended: Ending = status & 0x7f == 0 ? .exit((status >> 8) & 0xff) : .signal(status & 0x7f)
            ending.withLock { $0 = ended }
            return ended
        }
        if result < 0 && errno == ECHILD {
            // Another thread reaped it and is about to say how it ended.
            usleep(1_000)
            return ending.withLock { $0 }
        }
        return nil
    }
}
