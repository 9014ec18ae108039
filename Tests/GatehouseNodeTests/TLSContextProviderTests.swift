import Foundation
import GatehouseNode
import Logging
import Testing

/// Reloading: renewed files are served, files that do not load leave the old certificate.
@Suite("TLS context provider")
struct TLSContextProviderTests {
    private func metric(_ metrics: NodeMetrics, _ line: String) -> Double? {
        let text = String(decoding: metrics.registry.emitToBuffer(), as: UTF8.self)
        for row in text.split(separator: "\n") where row.hasPrefix(line + " ") {
            return Double(row.dropFirst(line.count + 1))
        }
        return nil
    }

    @Test func reloadServesRenewedFilesAndKeepsTheOldOnesOnBadFiles() async throws {
        let pki = try await TestCertificates.make()
        let logs = LogCapture()
        let metrics = NodeMetrics()
        let provider = try TLSContextProvider(
            settings: TLSSettings(certificateFile: pki.serverCertificateFile, privateKeyFile: pki.serverKeyFile),
            metrics: metrics.tls, logger: logs.logger(level: .debug))
        let first = provider.context
        #expect(provider.certificate.serial == "1001")
        #expect(metric(metrics, "gatehouse_tls_certificate_not_after_seconds") == Double(provider.certificate.notValidAfter))

        try await pki.renewServer(serial: "1002")
        let renewed = try provider.reload().get()
        #expect(renewed.serial == "1002")
        #expect(provider.certificate.serial == "1002")
        #expect(provider.context !== first)
        #expect(metric(metrics, #"gatehouse_tls_reloads_total{result="ok"}"#) == 1)

        // A renewal caught half-way: a new certificate with the old key.
        let keptKey = try Data(contentsOf: URL(fileURLWithPath: pki.serverKeyFile))
        try await pki.renewServer(serial: "1003")
        try keptKey.write(to: URL(fileURLWithPath: pki.serverKeyFile))
        let current = provider.context
        guard case .failure(let mismatch) = provider.reload() else {
            Issue.record("a key that does not match was accepted")
            return
        }
        #expect(mismatch.field == "tls.private_key_file")
        #expect(provider.certificate.serial == "1002")
        #expect(provider.context === current)

        // A truncated certificate file, then a missing one.
        try Data("-----BEGIN CERTIFICATE-----\nMIIB".utf8).write(to: URL(fileURLWithPath: pki.serverCertificateFile))
        #expect(throws: ConfigError.self) { try provider.reload().get() }
        try FileManager.default.removeItem(atPath: pki.serverCertificateFile)
        #expect(throws: ConfigError.self) { try provider.reload().get() }
        #expect(provider.certificate.serial == "1002")
        #expect(provider.context === current)
        #expect(metric(metrics, #"gatehouse_tls_reloads_total{result="failed"}"#) == 3)
        #expect(metric(metrics, #"gatehouse_tls_reloads_total{result="ok"}"#) == 1)

        // Fixed files are picked up again.
        try await pki.renewServer(serial: "1004")
        #expect(try provider.reload().get().serial == "1004")

        let text = logs.text
        #expect(text.contains("TLS certificate reloaded"))
        #expect(text.contains("TLS certificate reload failed"))
        #expect(text.contains("1004"))
        let key = try String(contentsOfFile: pki.serverKeyFile, encoding: .utf8)
        for line in key.split(separator: "\n") where !line.hasPrefix("-----") {
            #expect(!text.contains(line), "key material in the logs")
        }
    }
}
