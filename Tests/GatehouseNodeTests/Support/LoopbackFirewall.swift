import Foundation

/// Drops TCP between loopback addresses with iptables, to cut a node's data streams for
/// real while its UDP probes still pass. Needs root and Debian's `iptables`
/// (`scripts/test` installs it); tests that use it are enabled only where both are there.
/// Every rule carries a comment naming this process, and `heal` removes exactly those.
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
