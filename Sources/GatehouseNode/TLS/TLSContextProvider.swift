import Foundation
import Logging
import NIOSSL

/// The TLS context new client connections get, rebuilt from the files on `reload()` (SIGHUP).
///
/// A connection takes `context` once, when it is accepted, and keeps that context (and its
/// certificate) for its life: reloading changes what *new* connections are served and
/// drops nothing. Files that do not make a working context (half-written during a renewal,
/// a key that does not match, an unreadable CA file) leave the current context in place;
/// the failure is logged and counted, never the key material.
public final class TLSContextProvider: Sendable {
    public let settings: TLSSettings
    private let state: LockedBox<Loaded>
    private let metrics: TLSMetrics?
    private let logger: Logger

    /// A context and the certificate it serves.
    struct Loaded: Sendable {
        var context: NIOSSLContext
        var certificate: TLSCertificateSummary
        /// The files' contents, for listeners that build their own contexts (gRPC).
        var chain: [NIOSSLCertificate]
        var key: NIOSSLPrivateKey
    }

    /// Reads the files once; a node does not start with TLS it cannot serve.
    public init(settings: TLSSettings, metrics: TLSMetrics? = nil, logger: Logger) throws(ConfigError) {
        let loaded = try Self.load(settings)
        self.settings = settings
        self.metrics = metrics
        self.logger = logger
        state = LockedBox(loaded)
        metrics?.certificateNotAfter.set(to: Double(loaded.certificate.notValidAfter))
        logger.info("TLS certificate loaded", metadata: Self.metadata(loaded.certificate, settings))
    }

    /// The context for a connection accepted now.
    public var context: NIOSSLContext { state.withLock { $0.context } }

    /// The certificate chain and key new connections are served, as loaded last.
    var chainAndKey: (chain: [NIOSSLCertificate], key: NIOSSLPrivateKey) { state.withLock { ($0.chain, $0.key) } }

    /// The certificate new connections are served.
    public var certificate: TLSCertificateSummary { state.withLock { $0.certificate } }

    /// Whether clients must present a certificate signed by `clientCAFile`.
    public var requiresClientCertificate: Bool { settings.clientCAFile != nil }

    /// Re-reads the files; on success new connections get the new certificate, on failure
    /// the old one stays and the error is returned (and logged, and counted).
    @discardableResult
    public func reload() -> Result<TLSCertificateSummary, ConfigError> {
        do {
            let loaded = try Self.load(settings)
            let previous = state.withLock { current in
                defer { current = loaded }
                return current.certificate
            }
            metrics?.reloadsSucceeded.increment()
            metrics?.certificateNotAfter.set(to: Double(loaded.certificate.notValidAfter))
            var metadata = Self.metadata(loaded.certificate, settings)
            metadata["previous_serial"] = "\(previous.serial)"
            logger.notice("TLS certificate reloaded", metadata: metadata)
            return .success(loaded.certificate)
        } catch {
            metrics?.reloadsFailed.increment()
            let kept = certificate
            logger.error("TLS certificate reload failed; still serving the previous certificate", metadata: [
                "error": "\(error)", "serial": "\(kept.serial)", "not_after": "\(kept.notValidAfterText)",
            ])
            return .failure(error)
        }
    }

    private static func metadata(_ certificate: TLSCertificateSummary, _ settings: TLSSettings) -> Logger.Metadata {
        [
            "serial": "\(certificate.serial)", "subject": "\(certificate.subject)",
            "not_after": "\(certificate.notValidAfterText)",
            "listeners": "\(settings.listeners.map(\.rawValue).sorted().joined(separator: ","))",
            "client_certificates": "\(settings.clientCAFile == nil ? "not required" : "required")",
        ]
    }

    /// Builds a server context from the files, with errors that name the field to fix.
    static func load(_ settings: TLSSettings) throws(ConfigError) -> Loaded {
        try settings.validate()
        guard let certificatePath = settings.certificateFile, let keyPath = settings.privateKeyFile else {
            throw ConfigError(field: "tls", problem: "is not configured", fix: "set tls.certificate_file and tls.private_key_file")
        }
        let chain = try certificates(
            at: certificatePath, field: "tls.certificate_file", what: "the server certificate (then any intermediates)")
        try readable(keyPath, field: "tls.private_key_file")
        let key: NIOSSLPrivateKey
        do {
            key = try NIOSSLPrivateKey(file: keyPath, format: .pem)
        } catch {
            throw ConfigError(
                field: "tls.private_key_file", problem: "\(keyPath) does not hold an unencrypted PEM private key",
                fix: "give the certificate's key in PEM (`-----BEGIN PRIVATE KEY-----`); decrypt it first with `openssl pkey -in key.pem -out plain.pem`")
        }
        var configuration: TLSConfiguration
        if let caPath = settings.clientCAFile {
            let roots = try certificates(at: caPath, field: "tls.client_ca_file", what: "the CA certificate(s) that sign client certificates")
            configuration = .makeServerConfigurationWithMTLS(
                certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key), trustRoots: .certificates(roots))
            // Tells clients which CAs are accepted, so they can pick the right certificate.
            configuration.sendCANameList = true
        } else {
            configuration = .makeServerConfiguration(certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
        }
        configuration.minimumTLSVersion = .tlsv12
        let context: NIOSSLContext
        do {
            context = try NIOSSLContext(configuration: configuration)
        } catch {
            throw ConfigError(
                field: "tls.private_key_file", problem: "\(keyPath) does not go with the certificate in \(certificatePath) (\(error))",
                fix: "give the key the certificate was issued for, and its certificate first in tls.certificate_file")
        }
        return Loaded(context: context, certificate: TLSCertificateSummary(chain[0]), chain: chain, key: key)
    }

    /// Every PEM certificate in the file at `path`, at least one.
    private static func certificates(at path: String, field: String, what: String) throws(ConfigError) -> [NIOSSLCertificate] {
        try readable(path, field: field)
        let loaded: [NIOSSLCertificate]
        do {
            loaded = try NIOSSLCertificate.fromPEMFile(path)
        } catch {
            loaded = []
        }
        guard !loaded.isEmpty else {
            throw ConfigError(
                field: field, problem: "\(path) does not hold a PEM certificate",
                fix: "give \(what) in PEM (`-----BEGIN CERTIFICATE-----`)")
        }
        return loaded
    }

    private static func readable(_ path: String, field: String) throws(ConfigError) {
        guard FileManager.default.fileExists(atPath: path) else {
            throw ConfigError(field: field, problem: "\(path) does not exist", fix: "give the path of the PEM file (in cluster.yaml relative to the file, as a flag relative to the working directory)")
        }
        guard FileManager.default.isReadableFile(atPath: path) else {
            throw ConfigError(field: field, problem: "\(path) cannot be read by this user", fix: "let the user running gatehouse read it (e.g. chmod 0640 and the right group)")
        }
    }
}
