import Foundation

/// Drops TCP between loopback addresses with iptables, to cut a node's data streams for
/// real while its UDP probes still pass. Needs root and Debian's `iptables`
/// (`scripts/test` installs it); tests that use it are enabled only where both are there.
/// Every rule carries a comment naming this process, and `heal` removes exactly those; a
/// new firewall first removes those of test processes that died without healing.
final class LoopbackFirewall {
    private let iptables: String
    private let tag = "gatehouse-test-\(ProcessInfo.processInfo.processIdentifier)"
    private var rules: [[String]] = []

    static var isAvailable: Bool {
        guard getuid() == 0, let iptables = Subprocess.locate("iptables") ?? Self.systemIptables else { return false }
        return (try? Subprocess.runBlocking(iptables, ["-w", "-L", "INPUT", "-n"], timeout: 10).status) == 0
    }

    private static var systemIptables: String? {
        ["/usr/sbin/iptables", "/sbin/iptables"].first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    init() throws {
        guard let iptables = Subprocess.locate("iptables") ?? Self.systemIptables else {
            throw TestNodeError.unexpected("iptables is not installed (apt-get install iptables)")
        }
        self.iptables = iptables
        removeRulesOfEndedRuns()
    }

    /// Removes the rules a test process left behind when it died before healing (a crash,
    /// `kill -9`): their comment names a process that is gone. Otherwise they would cut the
    /// next run's nodes, whose ports may be the same.
    private func removeRulesOfEndedRuns() {
        guard let listed = try? Subprocess.runBlocking(iptables, ["-w", "-S", "INPUT"], timeout: 10), listed.status == 0 else { return }
        for line in listed.output.split(separator: "\n") {
            let words = line.split(separator: " ").map(String.init)
            guard words.first == "-A", let index = words.firstIndex(of: "--comment"), index + 1 < words.count,
                let pid = Self.testProcess(fromComment: words[index + 1]), kill(pid, 0) != 0, errno == ESRCH
            else { continue }
            _ = try? Subprocess.runBlocking(iptables, ["-w", "-D"] + words.dropFirst(), timeout: 10)
        }
    }

    /// The test process a rule's comment names, if it is one of ours.
    private static func testProcess(fromComment comment: String) -> pid_t? {
        let prefix = "gatehouse-test-"
        guard comment.hasPrefix(prefix) else { return nil }
        return pid_t(comment.dropFirst(prefix.count))
    }

    /// Drops every TCP packet between `a` and `b`, both ways.
    func cutTCP(between a: String, and b: String) async throws {
        for (source, destination) in [(a, b), (b, a)] {
            let rule = ["INPUT", "-p", "tcp", "-s", source, "-d", destination, "-m", "comment", "--comment", tag, "-j", "DROP"]
            let result = try await Subprocess.run(iptables, ["-w", "-I"] + rule, timeout: 10)
            guard result.status == 0 else { throw TestNodeError.unexpected("iptables -I failed: \(result.error)") }
            rules.append(rule)
        }
    }

    /// Removes every rule this firewall added; blocking, so that `deinit` can call it (each
    /// removal takes milliseconds).
    func heal() {
        for rule in rules { _ = try? Subprocess.runBlocking(iptables, ["-w", "-D"] + rule, timeout: 10) }
        rules.removeAll()
    }

    deinit {
        heal()
    }
}
