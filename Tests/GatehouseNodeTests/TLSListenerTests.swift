import Foundation
import GatehouseNode
import Testing

/// TLS on the RESP and HTTP listeners of an in-process node: handshake deadlines, the
/// per-source cap seeing the real peer, refusals spoken over TLS, and mTLS.
@Suite("TLS listeners", .timeLimit(.minutes(5)))
struct TLSListenerTests {
    private func metric(_ node: TestNode, _ line: String) -> Double? {
        let text = String(decoding: node.server.metrics.registry.emitToBuffer(), as: UTF8.self)
        for row in text.split(separator: "\n") where row.hasPrefix(line + " ") {
            return Double(row.dropFirst(line.count + 1))
        }
        return nil
    }

    private func closed(_ listener: String, _ reason: String) -> String {
        #"gatehouse_connections_closed_total{listener="\#(listener)",reason="\#(reason)"}"#
    }

    @Test func aHandshakeThatNeverCompletesIsClosedByTheFrameDeadline() async throws {
        let pki = try await TestCertificates.make()
        let node = try await TestNode.start { config in
            config.tls = TLSSettings(certificateFile: pki.serverCertificateFile, privateKeyFile: pki.serverKeyFile)
            // Without TLS nothing would close these before the idle deadline (5 minutes for
            // RESP without gateway tokens, and idle counts only decrypted bytes).
            config.connections.frameTimeoutMs = 1_000
        }
        let silent = try await RawConnection.open(node.endpoints.rpc)
        let partial = try await RawConnection.open(node.endpoints.rpc)
        // The start of a TLS record header, and then nothing. On a starved machine the
        // deadline may have closed it already, which is the outcome this test waits for.
        try? await partial.send([0x16, 0x03, 0x01, 0x00])
        let silentHTTP = try await RawConnection.open(node.endpoints.http)
        try await eventually("the stalled handshakes are closed") {
            !silent.isOpen && !partial.isOpen && !silentHTTP.isOpen
        }
        #expect(metric(node, closed("resp", "tls_handshake_timeout")) == 2)
        #expect(metric(node, closed("http", "tls_handshake_timeout")) == 1)
        try await node.stop()
    }

    @Test func theSourceCapSeesThePeerAndRefusesOverTLS() async throws {
        let pki = try await TestCertificates.make()
        let node = try await TestNode.start { config in
            config.tls = TLSSettings(certificateFile: pki.serverCertificateFile, privateKeyFile: pki.serverKeyFile)
            config.connections.maxPerSource = 2
        }
        let first = try await TLSTestConnection.open(node.endpoints.rpc, caFile: pki.caFile)
        let second = try await TLSTestConnection.open(node.endpoints.rpc, caFile: pki.caFile)
        #expect(try await first.command(["PING"], expecting: "+PONG"))
        #expect(try await second.command(["PING"], expecting: "+PONG"))
        #expect(try await first.servedSerial() == TestCertificates.firstServerSerial)
        // The third from 127.0.0.1 is told why, in TLS, and closed.
        let third = try await TLSTestConnection.open(node.endpoints.rpc, caFile: pki.caFile)
        #expect(try await third.waitFor("max number of clients from this address"))
        try await eventually("the refused connection is closed") { !third.isOpen }
        #expect(metric(node, closed("resp", "source_limit")) == 1)
        // A plaintext client gets nowhere.
        await first.close()
        try await eventually("a slot is free again") { metric(node, "gatehouse_resp_connections_open") == 1 }
        let plain = try await RawConnection.open(node.endpoints.rpc)
        try await plain.send("*1\r\n$4\r\nPING\r\n")
        try await eventually("the plaintext client is closed") { !plain.isOpen }
        #expect(!plain.text.contains("PONG"))
        #expect(metric(node, closed("resp", "tls_handshake_failed")) == 1)
        await second.close()
        try await node.stop()
    }

    @Test func mutualTLSNeedsACertificateTheCASigned() async throws {
        let pki = try await TestCertificates.make()
        let node = try await TestNode.start { config in
            config.tls = TLSSettings(
                certificateFile: pki.serverCertificateFile, privateKeyFile: pki.serverKeyFile, clientCAFile: pki.caFile)
        }
        let gateway = try await TLSTestConnection.open(
            node.endpoints.rpc, caFile: pki.caFile, certificateFile: pki.clientCertificateFile, keyFile: pki.clientKeyFile)
        #expect(try await gateway.command(["PING"], expecting: "+PONG"))
        let anonymous = try await TLSTestConnection.open(node.endpoints.rpc, caFile: pki.caFile)
        #expect(!(try await anonymous.command(["PING"], expecting: "+PONG")))
        let stranger = try await TLSTestConnection.open(
            node.endpoints.rpc, caFile: pki.caFile, certificateFile: pki.strangerCertificateFile, keyFile: pki.strangerKeyFile)
        #expect(!(try await stranger.command(["PING"], expecting: "+PONG")))
        try await eventually("both handshakes are refused and counted") {
            metric(node, closed("resp", "tls_handshake_failed")) == 2
        }
        #expect(!anonymous.isOpen && !stranger.isOpen)
        #expect(try await gateway.command(["PING"], expecting: "+PONG"))
        await gateway.close()
        try await node.stop()
    }
}
