import ArgumentParser
import Foundation
import GatehouseCore
import GatehouseNode
#if canImport(Glibc)
import Glibc
#endif

/// `gatehouse cluster …`: development helpers for a whole `cluster.yaml`.
struct Cluster: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a cluster locally, and look at one.", subcommands: [Up.self, Status.self])

    struct Up: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Start every node of the file as a child process; Ctrl-C stops them all.")

        @Option(help: "The cluster description.")
        var config = "cluster.yaml"

        @Flag(help: "Write JSON lines instead of text: the admin token, each node started, each node's own start line, the stop.")
        var json = false

        func run() async throws {
            guard let yaml = try? String(contentsOfFile: config, encoding: .utf8) else {
                throw CLIError("cannot read \(config)")
            }
            let base = URL(fileURLWithPath: config).deletingLastPathComponent().path
            let environment = ProcessInfo.processInfo.environment
            let nodeIDs = try ConfigLoader.nodeIDs(yaml: yaml)
            var resolved: [NodeConfig] = []
            for id in nodeIDs {
                resolved.append(try ConfigLoader.load(yaml: yaml, nodeID: id, environment: environment, baseDirectory: base))
            }
            var childEnvironment = environment
            if resolved.contains(where: { $0.adminToken == nil }) && environment[ConfigLoader.Environment.adminToken] == nil {
                // One admin token for the whole development cluster, so one CLI works against every node.
                var random = SystemRandomNumberGenerator()
                let token = APIKeyFormat.generate(prefix: "gadmin", using: &random)
                childEnvironment[ConfigLoader.Environment.adminToken] = token
                if json {
                    say(try JSONOutput.line(["event": "admin_token", "admin_token": token, "environment_variable": ConfigLoader.Environment.adminToken]))
                } else {
                    say("Admin token for every node of this run (not stored; export it to use the CLI):\n  export \(ConfigLoader.Environment.adminToken)=\(token)\n")
                }
            }
            let executable = URL(fileURLWithPath: CommandLine.arguments[0]).path
            var children: [Process] = []
            for node in resolved {
                let process = Process()
                process.executableURL = URL(fileURLWithPath: executable)
                process.arguments = ["serve", "--config", config, "--node", node.nodeID] + (json ? ["--json"] : [])
                process.environment = childEnvironment
                try process.run()
                children.append(process)
                let gossip = node.cluster.map { "\($0.gossipAddress)" }
                if json {
                    say(try JSONOutput.line([
                        "event": "started", "node_id": node.nodeID, "resp": "\(node.rpcAddress)", "http": "\(node.httpAddress)",
                        "gossip": gossip ?? NSNull(), "pid": Int(process.processIdentifier),
                    ]))
                } else {
                    say("\(node.nodeID): RESP \(node.rpcAddress)  HTTP \(node.httpAddress)  gossip \(gossip ?? "-")  pid \(process.processIdentifier)")
                }
            }
            if !json { say("\nCtrl-C stops all \(children.count) nodes.") }
            await waitForSignalThenStop(children)
            say(json ? (try JSONOutput.line(["event": "stopped", "nodes": children.count])) : "all nodes stopped")
        }

        /// Waits for SIGINT/SIGTERM (or for every child to exit), then sends SIGTERM to each child.
        private func waitForSignalThenStop(_ children: [Process]) async {
            signal(SIGINT, SIG_IGN)
            signal(SIGTERM, SIG_IGN)
            let (stream, continuation) = AsyncStream.makeStream(of: Int32.self)
            // The sources must outlive the wait; the process ends right after it anyway.
            let sources = [SIGINT, SIGTERM].map { number in
                let source = DispatchSource.makeSignalSource(signal: number)
                source.setEventHandler { continuation.yield(number) }
                source.resume()
                return source
            }
            let pids = children.map(\.processIdentifier)
            Task.detached {
                // Also stop waiting when every child has exited by itself.
                while pids.contains(where: { kill($0, 0) == 0 }) { try? await Task.sleep(for: .milliseconds(200)) }
                continuation.finish()
            }
            for await _ in stream { break }
            withExtendedLifetime(sources) {}
            for child in children where child.isRunning { kill(child.processIdentifier, SIGTERM) }
            for child in children { child.waitUntilExit() }
        }
    }
}

/// Writes a line to standard output unbuffered: the children write to the same terminal
/// (or file), and buffered lines would come out late or, on a kill, not at all.
func say(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}
