/// TLS on the client listeners: `cluster.yaml` section `tls:`, or `gatehouse serve
/// --tls-certificate-file … --tls-private-key-file … [--tls-client-ca-file …]`.
///
/// Paths only; the files are read when the node starts (`TLSContextProvider`) and again on
/// every SIGHUP, so a renewed certificate is picked up without a restart.
public struct TLSSettings: Sendable, Hashable {
    /// PEM: the server certificate, then any intermediates (a full chain file).
    public var certificateFile: String?
    /// PEM: the certificate's private key, unencrypted (it is never logged).
    public var privateKeyFile: String?
    /// PEM: the CAs that sign client certificates. When set, every client must present a
    /// certificate one of them signed (mutual TLS), or its handshake fails.
    public var clientCAFile: String?
    /// The listeners that speak TLS; the others stay plain.
    public var listeners: Set<ClientListener> = Set(ClientListener.allCases)

    public init(
        certificateFile: String? = nil, privateKeyFile: String? = nil, clientCAFile: String? = nil,
        listeners: Set<ClientListener> = Set(ClientListener.allCases)
    ) {
        self.certificateFile = certificateFile
        self.privateKeyFile = privateKeyFile
        self.clientCAFile = clientCAFile
        self.listeners = listeners
    }

    /// Whether any TLS file is configured (a half-configured TLS is refused by `validate`).
    public var isConfigured: Bool { certificateFile != nil || privateKeyFile != nil || clientCAFile != nil }

    /// Whether `listener` speaks TLS.
    public func applies(to listener: ClientListener) -> Bool {
        isConfigured && listeners.contains(listener)
    }

    /// Checks that the settings make a whole; the files themselves are checked by
    /// `TLSContextProvider` when the node starts.
    func validate() throws(ConfigError) {
        guard isConfigured else { return }
        guard certificateFile != nil else {
            let other = privateKeyFile != nil ? "tls.private_key_file" : "tls.client_ca_file"
            throw ConfigError(
                field: "tls.certificate_file", problem: "is missing while \(other) is set",
                fix: "give the server's PEM certificate chain (or --tls-certificate-file), or remove \(other) to run without TLS")
        }
        guard privateKeyFile != nil else {
            throw ConfigError(
                field: "tls.private_key_file", problem: "is missing while tls.certificate_file is set",
                fix: "give the certificate's PEM private key (or --tls-private-key-file), or remove tls.certificate_file to run without TLS")
        }
        guard !listeners.isEmpty else {
            throw ConfigError(
                field: "tls.listeners", problem: "is empty", fix: "list any of resp, http and grpc, or leave it out for all three")
        }
    }
}
