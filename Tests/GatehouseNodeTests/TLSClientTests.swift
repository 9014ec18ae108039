import Foundation
import GatehouseNode
import Testing

/// Real clients over TLS against a real `gatehouse serve` process: redis-cli --tls,
/// redis-py with ssl=True, curl --cacert and openssl s_client; mTLS; SIGHUP reloads.
@Suite("TLS with real clients", .timeLimit(.minutes(5)))
struct TLSClientTests {
    static let adminToken = "tls-admin-token-0123456789"
    static let pyScript = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("clients/redis_py_tls_check.py").path

    private func tool(_ name: String, _ install: String) throws -> String {
        try #require(Subprocess.locate(name), "\(name) is missing: \(install) (scripts/test does)")
    }

    /// A node serving RESP and HTTP over TLS with the test PKI; mTLS with `mutual`.
    private func start(_ pki: TestCertificates, mutual: Bool = false) async throws -> ServeProcess {
        let executable = try #require(Subprocess.gatehouseExecutable(), "the gatehouse executable is not built")
        var flags = ["--tls-certificate-file", pki.serverCertificateFile, "--tls-private-key-file", pki.serverKeyFile]
        if mutual { flags += ["--tls-client-ca-file", pki.caFile] }
        return try await ServeProcess.start(
            executable: executable, dataDirectory: TemporaryDirectory.make(), adminToken: Self.adminToken, extraArguments: flags)
    }

    /// curl over HTTPS, trusting the test CA; `client` adds a client certificate.
    private func curl(
        _ pki: TestCertificates, _ port: Int, _ path: String, method: String = "GET", body: String? = nil, client: Bool = false
    ) async throws -> Subprocess.Result {
        var arguments = ["-sS", "--max-time", "20", "--cacert", pki.caFile, "-X", method, "-H", "Authorization: Bearer \(Self.adminToken)"]
        if client { arguments += ["--cert", pki.clientCertificateFile, "--key", pki.clientKeyFile] }
        if let body { arguments += ["-H", "Content-Type: application/json", "-d", body] }
        return try await Subprocess.run(try tool("curl", "apt-get install curl"), arguments + ["https://127.0.0.1:\(port)\(path)"])
    }

    private func createKey(_ pki: TestCertificates, _ node: ServeProcess, client: Bool = false) async throws -> String {
        let created = try await curl(pki, node.endpoints.http.port, "/v1/keys", method: "POST", body: #"{"owner": "acct_tls", "scopes": ["read"]}"#, client: client)
        let object = try JSONSerialization.jsonObject(with: Data(created.output.utf8)) as? [String: Any]
        return try #require(object?["key"] as? String, "create over HTTPS answered: \(created.output) \(created.error)")
    }

    @Test func redisCLIRedisPyAndCurlSpeakTLS() async throws {
        let cli = try tool("redis-cli", "apt-get install redis-tools")
        let python = try tool("python3", "install python3")
        let pki = try await TestCertificates.make()
        let node = try await start(pki)
        defer { node.kill9() }
        let rpc = String(node.endpoints.rpc.port)

        let health = try await curl(pki, node.endpoints.http.port, "/healthz")
        #expect(health.status == 0, "\(health.error)")
        let key = try await createKey(pki, node)
        let verified = try await curl(pki, node.endpoints.http.port, "/v1/verify", method: "POST", body: #"{"key": "\#(key)", "scopes": ["read"]}"#)
        #expect(verified.output.contains(#""code":"VALID""#), "\(verified.output)")

        let tls = ["--tls", "--cacert", pki.caFile, "-h", "127.0.0.1", "-p", rpc]
        let ping = try await Subprocess.run(cli, tls + ["PING"])
        #expect(ping.output.trimmingCharacters(in: .whitespacesAndNewlines) == "PONG", "\(ping.output) \(ping.error)")
        let verify = try await Subprocess.run(cli, tls + ["VERIFY", key, "SCOPE", "read"])
        #expect(verify.output.split(separator: "\n").prefix(4) == ["valid", "1", "code", "VALID"], "\(verify.output)")

        let py = try await Subprocess.run(python, [Self.pyScript, rpc, key, pki.caFile])
        #expect(py.status == 0, "\(py.output)\(py.error)")
        #expect(py.output.contains("redis-py TLS RESP2: ok") && py.output.contains("redis-py TLS RESP3: ok"))

        // Plaintext is refused on both listeners.
        let plainRESP = try await Subprocess.run(cli, ["-h", "127.0.0.1", "-p", rpc, "PING"], timeout: 20)
        #expect(!plainRESP.output.contains("PONG"))
        let plainHTTP = try await Subprocess.run(try tool("curl", ""), ["-sS", "--max-time", "10", "http://127.0.0.1:\(node.endpoints.http.port)/healthz"])
        #expect(plainHTTP.status != 0)
        // A client that does not trust the CA refuses the node.
        let untrusting = try await Subprocess.run(cli, ["--tls", "-h", "127.0.0.1", "-p", rpc, "PING"], timeout: 20)
        #expect(!untrusting.output.contains("PONG"))
    }

    @Test func mutualTLSRefusesClientsWithoutACertificateTheCASigned() async throws {
        let cli = try tool("redis-cli", "apt-get install redis-tools")
        let python = try tool("python3", "install python3")
        let pki = try await TestCertificates.make()
        let node = try await start(pki, mutual: true)
        defer { node.kill9() }
        let rpc = String(node.endpoints.rpc.port)
        let tls = ["--tls", "--cacert", pki.caFile, "-h", "127.0.0.1", "-p", rpc]

        let anonymous = try await Subprocess.run(cli, tls + ["PING"], timeout: 20)
        #expect(!anonymous.output.contains("PONG"), "\(anonymous.output)")
        let stranger = try await Subprocess.run(cli, tls + ["--cert", pki.strangerCertificateFile, "--key", pki.strangerKeyFile, "PING"], timeout: 20)
        #expect(!stranger.output.contains("PONG"), "\(stranger.output)")
        let gateway = try await Subprocess.run(cli, tls + ["--cert", pki.clientCertificateFile, "--key", pki.clientKeyFile, "PING"])
        #expect(gateway.output.trimmingCharacters(in: .whitespacesAndNewlines) == "PONG", "\(gateway.output) \(gateway.error)")

        let noCertificate = try await curl(pki, node.endpoints.http.port, "/healthz")
        #expect(noCertificate.status != 0)
        let key = try await createKey(pki, node, client: true)

        let refused = try await Subprocess.run(python, [Self.pyScript, rpc, key, pki.caFile])
        #expect(refused.status != 0)
        let accepted = try await Subprocess.run(python, [Self.pyScript, rpc, key, pki.caFile, pki.clientCertificateFile, pki.clientKeyFile])
        #expect(accepted.status == 0, "\(accepted.output)\(accepted.error)")
    }

    @Test func aRenewedCertificateIsServedAfterSIGHUPWhileOpenConnectionsKeepGoing() async throws {
        let pki = try await TestCertificates.make()
        let node = try await start(pki)
        defer { node.kill9() }
        let before = try await TLSTestConnection.open(node.endpoints.rpc, caFile: pki.caFile)
        #expect(try await before.command(["PING"], expecting: "+PONG"))
        #expect(try await before.servedSerial() == "1001")
        await #expect(try pki.servedSerial(port: node.endpoints.rpc.port) == "1001")

        // Renewed on disk: nothing changes until the signal.
        try await pki.renewServer(serial: "1002")
        await #expect(try pki.servedSerial(port: node.endpoints.http.port) == "1001")
        kill(node.process.processIdentifier, SIGHUP)
        try await eventually("new RESP connections get the renewed certificate") {
            try await pki.servedSerial(port: node.endpoints.rpc.port) == "1002"
        }
        await #expect(try pki.servedSerial(port: node.endpoints.http.port) == "1002")
        #expect(node.process.isRunning)
        // The connection opened before the reload still works, on its certificate.
        #expect(try await before.command(["PING"], expecting: "+PONG"))
        #expect(try await before.servedSerial() == "1001")
        let after = try await TLSTestConnection.open(node.endpoints.rpc, caFile: pki.caFile)
        #expect(try await after.command(["PING"], expecting: "+PONG"))
        #expect(try await after.servedSerial() == "1002")

        // A broken file on disk: the reload is refused and counted, the renewed one stays.
        try Data("garbage\n".utf8).write(to: URL(fileURLWithPath: pki.serverCertificateFile))
        kill(node.process.processIdentifier, SIGHUP)
        try await eventually("the failed reload is counted") {
            try await curl(pki, node.endpoints.http.port, "/metrics").output.contains(#"gatehouse_tls_reloads_total{result="failed"} 1"#)
        }
        await #expect(try pki.servedSerial(port: node.endpoints.rpc.port) == "1002")
        let metrics = try await curl(pki, node.endpoints.http.port, "/metrics").output
        #expect(metrics.contains(#"gatehouse_tls_reloads_total{result="ok"} 1"#))
        #expect(node.process.isRunning)
        await before.close()
        await after.close()
    }
}
