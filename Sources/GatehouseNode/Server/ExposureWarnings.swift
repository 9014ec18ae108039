/// The risks of a node reachable beyond its own machine, said out loud at start: a listener
/// on a non-loopback address without TLS carries keys and tokens in clear, and without
/// gateway tokens anyone who reaches it may verify keys (and spend their limits).
///
/// A warning, not a refusal: behind a private network, a service mesh or a container's
/// loopback-only port mapping (`docker-compose.yml`) plain listeners can be what is wanted.
public enum ExposureWarnings {
    /// One sentence per risk; empty when both listeners are on loopback.
    public static func of(_ config: NodeConfig) -> [String] {
        var warnings: [String] = []
        var listeners: [(ClientListener, String, HostPort)] = [
            (.resp, "RESP", config.rpcAddress), (.http, "HTTP", config.httpAddress),
        ]
        if let grpc = config.grpcAddress { listeners.append((.grpc, "gRPC", grpc)) }
        for (listener, name, address) in listeners where !isLoopback(address.host) && !config.tls.applies(to: listener) {
            let secrets = listener == .http ? "API keys, gateway tokens and the admin token" : "API keys and gateway tokens"
            warnings.append(
                "\(name) listens on \(address), beyond this machine, without TLS: \(secrets) cross the network in clear. "
                    + "Configure tls (certificate_file, private_key_file) or listen on 127.0.0.1.")
        }
        let exposed = listeners.filter { !isLoopback($0.2.host) }.map { "\($0.1) on \($0.2)" }
        if !exposed.isEmpty && config.gatewayTokens.isEmpty {
            warnings.append(
                "no gateway_tokens while \(exposed.joined(separator: " and ")) can be reached beyond this machine: "
                    + "anyone who reaches them can verify keys (probing for valid ones, spending their rate limits). "
                    + "Set gateway_tokens (or GATEHOUSE_GATEWAY_TOKENS).")
        }
        return warnings
    }

    /// `localhost`, 127.0.0.0/8 and `::1`; any other name or address (`0.0.0.0` and `::`
    /// above all) may be reached from elsewhere.
    static func isLoopback(_ host: String) -> Bool {
        let bare = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        return bare == "localhost" || bare.hasPrefix("127.") || bare == "::1"
    }
}
