import ArgumentParser
import Foundation
import GatehouseClient
import GatehouseCore
import GatehouseNode

/// `gatehouse verify KEY`: ask a node over RESP, as a gateway would.
struct Verify: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Verify a key over RESP, as a gateway does.")

    @Argument(help: "The API key.")
    var key: String
    @Option(name: .customLong("scope"), help: "A required scope (repeatable).")
    var scopes: [String] = []
    @Option(help: "Cost of the request against limits and credits.")
    var cost: Int64?
    @Option(help: "The caller's IP address, for the failed-attempt throttle.")
    var ip: String?
    @Option(help: "The node's RESP address.")
    var rpc = "127.0.0.1:7379"
    @Option(help: "Gateway token (default: $GATEHOUSE_GATEWAY_TOKENS' first entry, when set).")
    var token: String?
    @Flag(help: "Print JSON.")
    var json = false

    func run() async throws {
        guard let address = HostPort(parsing: rpc) else { throw ValidationError("--rpc \(rpc) is not host:port") }
        let gatewayToken = token ?? ProcessInfo.processInfo.environment[ConfigLoader.Environment.gatewayTokens]?
            .split(separator: ",").first.map(String.init)
        let client: GatehouseClient
        do {
            client = try await GatehouseClient.connect(host: address.host, port: address.port, token: gatewayToken)
        } catch {
            throw CLIError("cannot reach \(rpc): \(error). Is the node running (gatehouse serve)?")
        }
        let answer = try await client.verify(key, scopes: scopes, cost: cost, ip: ip)
        try? await client.close()
        let fields: [(String, String)] = [
            ("valid", String(answer.valid)), ("code", answer.code.rawValue), ("key_id", answer.keyID ?? "-"),
            ("owner", answer.owner ?? "-"), ("scopes", answer.scopes.joined(separator: ",")),
            ("limit", answer.limit.map(String.init) ?? "-"), ("remaining", answer.remaining.map(String.init) ?? "-"),
            ("reset_ms", answer.resetMs.map(String.init) ?? "-"), ("retry_after_ms", answer.retryAfterMs.map(String.init) ?? "-"),
            ("credits_remaining", answer.creditsRemaining.map(String.init) ?? "-"),
        ]
        if json {
            var object: [String: Any] = [:]
            for (name, value) in fields { object[name] = value }
            object["valid"] = answer.valid
            object["meta"] = answer.meta
            let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .prettyPrinted])
            print(String(decoding: data, as: UTF8.self))
        } else {
            for (name, value) in fields { print("\(name.padding(toLength: 18, withPad: " ", startingAt: 0)) \(value)") }
        }
        if !answer.valid { throw ExitCode(2) }
    }
}
