import NIOCertificateReloading
import NIOSSL

/// The gRPC listener builds its own TLS contexts (grpc-swift's transport); as a
/// `CertificateReloader` the provider hands it the certificate and key loaded last, so a
/// SIGHUP reload reaches new gRPC connections as it reaches RESP and HTTP ones.
extension TLSContextProvider: CertificateReloader {
    public var sslContextConfigurationOverride: NIOSSLContextConfigurationOverride {
        let (chain, key) = chainAndKey
        var override = NIOSSLContextConfigurationOverride()
        override.certificateChain = chain.map { .certificate($0) }
        override.privateKey = .privateKey(key)
        return override
    }
}
