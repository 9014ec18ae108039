import Foundation
import GatehouseNode
import Logging
import Testing

/// The `tls:` section and the files it names: every mistake stops the start with the field
/// and what to do.
@Suite("TLS config")
struct TLSConfigTests {
    private func load(_ tls: String) throws(ConfigError) -> NodeConfig {
        try ConfigLoader.load(yaml: "tls:\n\(tls)\nnodes:\n  - {id: n1}\n", nodeID: nil, environment: [:], baseDirectory: "/etc/gh")
    }

    private func error(_ body: () throws -> Void) -> ConfigError? {
        do {
            try body()
            return nil
        } catch let error as ConfigError {
            return error
        } catch {
            Issue.record("not a ConfigError: \(error)")
            return nil
        }
    }

    @Test func theSectionResolvesPathsAgainstTheConfigFile() throws {
        let config = try load("""
              certificate_file: tls/server.pem
              private_key_file: /secure/server.key
              client_ca_file: tls/gateways-ca.pem
              listeners: [resp]
            """)
        #expect(config.tls.certificateFile == "/etc/gh/tls/server.pem")
        #expect(config.tls.privateKeyFile == "/secure/server.key")
        #expect(config.tls.clientCAFile == "/etc/gh/tls/gateways-ca.pem")
        #expect(config.tls.applies(to: .resp))
        #expect(!config.tls.applies(to: .http))
        let both = try load("  certificate_file: a.pem\n  private_key_file: a.key")
        #expect(both.tls.applies(to: .resp) && both.tls.applies(to: .http))
        #expect(both.tls.clientCAFile == nil)
        #expect(!(try ConfigLoader.load(yaml: "nodes:\n  - {id: n1}\n", nodeID: nil, environment: [:], baseDirectory: ".")).tls.isConfigured)
    }

    @Test func halfAConfigurationNamesWhatIsMissing() {
        #expect(error { _ = try load("  private_key_file: a.key") }?.field == "tls.certificate_file")
        #expect(error { _ = try load("  certificate_file: a.pem") }?.field == "tls.private_key_file")
        let caOnly = error { _ = try load("  client_ca_file: ca.pem") }
        #expect(caOnly?.field == "tls.certificate_file")
        #expect(caOnly?.problem.contains("tls.client_ca_file") == true)
        #expect(error { _ = try load("  certificate_file: a.pem\n  private_key_file: a.key\n  listeners: [resp, gossip]") }?.field == "tls.listeners[1]")
        #expect(error { _ = try load("  certificate_file: a.pem\n  private_key_file: a.key\n  listeners: []") }?.field == "tls.listeners")
        #expect(error { _ = try load("  certificate: a.pem") }?.field == "tls.certificate")
        // Flags fill the same settings, and are checked the same way.
        var flags = NodeConfig()
        flags.tls.privateKeyFile = "/tmp/a.key"
        #expect(error { try flags.validate() }?.field == "tls.certificate_file")
    }

    @Test func filesThatDoNotLoadStopTheStart() async throws {
        let pki = try await TestCertificates.make()
        let logger = LogCapture().logger(level: .info)
        func problem(_ settings: TLSSettings) -> ConfigError? {
            error { _ = try TLSContextProvider(settings: settings, logger: logger) }
        }
        let good = TLSSettings(certificateFile: pki.serverCertificateFile, privateKeyFile: pki.serverKeyFile, clientCAFile: pki.caFile)
        let provider = try TLSContextProvider(settings: good, logger: logger)
        #expect(provider.certificate.serial == TestCertificates.firstServerSerial)
        #expect(provider.certificate.subject == "CN=gatehouse-test-server")
        #expect(provider.requiresClientCertificate)

        let garbage = pki.directory + "/garbage.pem"
        try Data("not a certificate\n".utf8).write(to: URL(fileURLWithPath: garbage))
        var settings = good
        settings.certificateFile = pki.directory + "/missing.pem"
        let missing = problem(settings)
        #expect(missing?.field == "tls.certificate_file")
        #expect(missing?.problem.contains("does not exist") == true)
        settings.certificateFile = garbage
        #expect(problem(settings)?.field == "tls.certificate_file")

        settings = good
        settings.privateKeyFile = garbage
        #expect(problem(settings)?.field == "tls.private_key_file")
        // A key that is not the certificate's: the one of the client certificate.
        settings.privateKeyFile = pki.clientKeyFile
        let mismatch = problem(settings)
        #expect(mismatch?.field == "tls.private_key_file")
        #expect(mismatch?.problem.contains("does not go with") == true)

        settings = good
        settings.clientCAFile = garbage
        #expect(problem(settings)?.field == "tls.client_ca_file")
        settings.clientCAFile = pki.directory + "/nowhere/ca.pem"
        #expect(problem(settings)?.field == "tls.client_ca_file")

        // Nothing of the key in any message.
        let key = try String(contentsOfFile: pki.serverKeyFile, encoding: .utf8)
        let body = key.split(separator: "\n").dropFirst().first.map(String.init) ?? "?"
        #expect(mismatch.map { !$0.description.contains(body) } == true)
    }

    @Test func exposureIsWarnedAboutUnlessLoopbackOrProtected() {
        var config = NodeConfig()
        #expect(ExposureWarnings.of(config).isEmpty)
        config.rpcAddress = HostPort(host: "0.0.0.0", port: 7379)
        config.httpAddress = HostPort(host: "::", port: 7380)
        let open = ExposureWarnings.of(config)
        #expect(open.count == 3)
        #expect(open[0].contains("RESP") && open[0].contains("without TLS"))
        #expect(open[1].contains("HTTP") && open[1].contains("admin token"))
        #expect(open[2].contains("gateway_tokens"))
        config.gatewayTokens = ["gateway-token-0123456789"]
        config.tls = TLSSettings(certificateFile: "/a.pem", privateKeyFile: "/a.key", listeners: [.resp])
        let httpPlain = ExposureWarnings.of(config)
        #expect(httpPlain.count == 1)
        #expect(httpPlain.first?.hasPrefix("HTTP listens on [::]:7380") == true)
        config.tls.listeners = [.resp, .http]
        #expect(ExposureWarnings.of(config).isEmpty)
        config.httpAddress = HostPort(host: "localhost", port: 7380)
        config.rpcAddress = HostPort(host: "127.0.0.2", port: 7379)
        config.tls = TLSSettings()
        config.gatewayTokens = []
        #expect(ExposureWarnings.of(config).isEmpty)
    }
}
