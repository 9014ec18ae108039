/// Decides whether a token presented by a gateway (RESP `AUTH`, HTTP bearer) is accepted.
///
/// With no gateway tokens configured, verify endpoints are open (bound to loopback by
/// default); the admin token is always accepted too.
public struct GatewayAuthenticator: Sendable {
    private let gatewayTokens: [[UInt8]]
    private let adminToken: [UInt8]

    public init(gatewayTokens: [String], adminToken: String) {
        self.gatewayTokens = gatewayTokens.map { Array($0.utf8) }
        self.adminToken = Array(adminToken.utf8)
    }

    /// Whether callers must present a token before verifying.
    public var isRequired: Bool { !gatewayTokens.isEmpty }

    public func acceptsGateway(_ token: some Collection<UInt8>) -> Bool {
        var accepted = constantTimeEquals(token, adminToken)
        for candidate in gatewayTokens {
            accepted = constantTimeEquals(token, candidate) || accepted
        }
        return accepted
    }
}
