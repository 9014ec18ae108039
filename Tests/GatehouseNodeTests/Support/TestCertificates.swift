import Foundation
import Testing

/// A throwaway PKI made with the `openssl` CLI in a temporary directory, at test time (no
/// private key is ever committed): a CA, a server certificate for 127.0.0.1 and localhost,
/// a client certificate the CA signed, and a client certificate of another CA.
struct TestCertificates {
    let directory: String
    private let openssl: String

    var caFile: String { directory + "/ca.pem" }
    var serverCertificateFile: String { directory + "/server.pem" }
    var serverKeyFile: String { directory + "/server.key" }
    var clientCertificateFile: String { directory + "/client.pem" }
    var clientKeyFile: String { directory + "/client.key" }
    /// A client certificate signed by a CA the node does not trust.
    var strangerCertificateFile: String { directory + "/stranger.pem" }
    var strangerKeyFile: String { directory + "/stranger.key" }

    /// The serial of the first server certificate, as `openssl x509 -serial` prints it.
    static let firstServerSerial = "1001"

    static func make() async throws -> TestCertificates {
        let openssl = try #require(Subprocess.locate("openssl"), "openssl is missing: install it (scripts/test does)")
        let certificates = TestCertificates(directory: TemporaryDirectory.make(), openssl: openssl)
        try await certificates.makeCA(name: "ca", commonName: "Gatehouse Test CA")
        try await certificates.makeCA(name: "other-ca", commonName: "Some Other CA")
        try await certificates.issueServer(serial: firstServerSerial, into: "server")
        try await certificates.issue(name: "client", commonName: "gateway-1", ca: "ca", serial: "2001", extensions: "extendedKeyUsage=clientAuth")
        try await certificates.issue(name: "stranger", commonName: "stranger", ca: "other-ca", serial: "3001", extensions: "extendedKeyUsage=clientAuth")
        return certificates
    }

    /// Replaces the server certificate and key on disk with a new pair (new key, serial
    /// `serial`), each file by an atomic rename, as a renewal tool does.
    func renewServer(serial: String) async throws {
        try await issueServer(serial: serial, into: "renewed")
        try rename(directory + "/renewed.key", serverKeyFile)
        try rename(directory + "/renewed.pem", serverCertificateFile)
    }

    /// The serial of the certificate `openssl s_client` is served at `port`.
    func servedSerial(port: Int) async throws -> String? {
        let session = try await Subprocess.run(
            openssl, ["s_client", "-connect", "127.0.0.1:\(port)", "-CAfile", caFile, "-verify_return_error"], input: "", timeout: 15)
        guard session.output.contains("-----BEGIN CERTIFICATE-----") else { return nil }
        let parsed = try await Subprocess.run(openssl, ["x509", "-noout", "-serial"], input: session.output)
        // "serial=1002"
        return parsed.output.split(separator: "=").last.map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
    }

    private func issueServer(serial: String, into name: String) async throws {
        try await issue(
            name: name, commonName: "gatehouse-test-server", ca: "ca", serial: serial,
            extensions: "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth")
    }

    private func makeCA(name: String, commonName: String) async throws {
        try await run([
            "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2",
            "-keyout", "\(directory)/\(name).key", "-out", "\(directory)/\(name).pem", "-subj", "/CN=\(commonName)",
            "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        ])
    }

    private func issue(name: String, commonName: String, ca: String, serial: String, extensions: String) async throws {
        let base = "\(directory)/\(name)"
        try await run([
            "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", "\(base).key", "-out", "\(base).csr", "-subj", "/CN=\(commonName)",
        ])
        try Data("basicConstraints=CA:FALSE\n\(extensions)\n".utf8).write(to: URL(fileURLWithPath: "\(base).ext"))
        try await run([
            "x509", "-req", "-in", "\(base).csr", "-CA", "\(directory)/\(ca).pem", "-CAkey", "\(directory)/\(ca).key",
            "-set_serial", "0x\(serial)", "-days", "2", "-out", "\(base).pem", "-extfile", "\(base).ext",
        ])
    }

    private func run(_ arguments: [String]) async throws {
        let result = try await Subprocess.run(openssl, arguments)
        guard result.status == 0 else {
            throw TestNodeError.unexpected("openssl \(arguments.prefix(2).joined(separator: " ")) failed: \(result.error)")
        }
    }

    private func rename(_ from: String, _ to: String) throws {
        guard Foundation.rename(from, to) == 0 else { throw TestNodeError.unexpected("rename \(from) failed: errno \(errno)") }
    }
}
