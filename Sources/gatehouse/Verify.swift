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
        if json {
            print(try JSONOutput.pretty(Self.jsonObject(answer)))
        } else {
            print(KeyTable.renderFields(Self.fields(answer), width: 18))
        }
        if !answer.valid { throw ExitCode(2) }
    }

    /// The answer as the RESP reply names its fields; `null` for what it does not have.
    static func jsonObject(_ answer: VerifyAnswer) -> [String: Any] {
        func value(_ number: Int64?) -> Any { number.map { $0 as Any } ?? NSNull() }
        return [
            "valid": answer.valid, "code": answer.code.rawValue, "key_id": answer.keyID ?? NSNull(), "owner": answer.owner ?? NSNull(),
            "scopes": answer.scopes, "meta": answer.meta, "limit": value(answer.limit), "remaining": value(answer.remaining),
            "reset_ms": value(answer.resetMs), "retry_after_ms": value(answer.retryAfterMs), "credits_remaining": value(answer.creditsRemaining),
        ]
    }

    /// `(field, value)` lines for a person: `yes`/`no`, `-` for nothing, meta as sorted pairs.
    static func fields(_ answer: VerifyAnswer) -> [(String, String)] {
        func text(_ number: Int64?) -> String { number.map(String.init) ?? "-" }
        return [
            ("valid", KeyTable.yesNo(answer.valid)), ("code", answer.code.rawValue), ("key_id", answer.keyID ?? "-"),
            ("owner", answer.owner ?? "-"), ("scopes", answer.scopes.isEmpty ? "-" : answer.scopes.joined(separator: ",")),
            ("meta", KeyTable.meta(answer.meta)), ("limit", text(answer.limit)), ("remaining", text(answer.remaining)),
            ("reset_ms", text(answer.resetMs)), ("retry_after_ms", text(answer.retryAfterMs)),
            ("credits_remaining", text(answer.creditsRemaining)),
        ]
    }
}
