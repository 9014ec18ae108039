import GatehouseCore

/// Finds which admin token a request presents.
///
/// The presented token is hashed once (SHA-256) and its hash compared with every stored
/// hash in constant time, all of them, whatever matched: the time taken says nothing about
/// which token, or how much of one, was right. Only hashes are held, so a memory dump of
/// the node gives no token either.
public struct AdminAuthenticator: Sendable {
    public let credentials: [AdminCredential]

    public init(credentials: [AdminCredential]) {
        self.credentials = credentials
    }

    /// The token's credential, or nil when no admin token matches.
    public func identify(_ token: some Collection<UInt8>) -> AdminCredential? {
        let presented = TokenDigest.sha256(token)
        var found: Int?
        for (index, credential) in credentials.enumerated() {
            let matches = constantTimeEquals(presented, credential.secretHash)
            // Both branches assign; no comparison is skipped once one matched.
            found = matches ? index : found
        }
        return found.map { credentials[$0] }
    }
}
