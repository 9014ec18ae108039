import Foundation
import Testing

/// The shipped `deploy/nginx/gatehouse.conf` in a real nginx in front of a real node: clients
/// get 200, 401, 403 and 429 (not the 500 nginx makes of a 429 from `auth_request`), with
/// `Retry-After` and the RateLimit headers, and the application learns the key's id.
@Suite("nginx auth_request with the shipped config", .timeLimit(.minutes(5)))
struct NginxGatewayTests {
    static let adminToken = "nginx-admin-token-0123456789"
    static let gatewayToken = "nginx-gateway-token-0123456789"
    static let shippedConfig = Subprocess.packageRoot.appendingPathComponent("deploy/nginx/gatehouse.conf").path

    /// The shipped file with its addresses, paths and gateway token replaced for the test, plus
    /// a stand-in application (a server block of the same nginx that echoes what it was told).
    static func derivedConfig(directory: String, listen: Int, gatehouse: Int, app: Int) throws -> String {
        var config = try String(contentsOfFile: shippedConfig, encoding: .utf8)
        let application = """
            server {
                    listen 127.0.0.1:\(app);
                    location / {
                        default_type text/plain;
                        return 200 "app: key_id=$http_x_gatehouse_key_id owner=$http_x_gatehouse_owner method=$request_method\\n";
                    }
                }
            """
        let replacements: [(String, String)] = [
            ("listen 8080;", "listen 127.0.0.1:\(listen);"),
            ("server 127.0.0.1:7380;", "server 127.0.0.1:\(gatehouse);"),
            ("server 127.0.0.1:8081;", "server 127.0.0.1:\(app);"),
            ("pid /run/nginx-gatehouse.pid;", "pid \(directory)/nginx.pid;"),
            ("error_log /var/log/nginx/gatehouse-error.log warn;", "error_log \(directory)/error.log warn;"),
            (
                "access_log /var/log/nginx/gatehouse-access.log;",
                """
                access_log \(directory)/access.log;
                    client_body_temp_path \(directory)/body;
                    proxy_temp_path \(directory)/proxy;
                    fastcgi_temp_path \(directory)/fastcgi;
                    uwsgi_temp_path \(directory)/uwsgi;
                    scgi_temp_path \(directory)/scgi;
                    \(application)
                """
            ),
            ("\"replace-with-a-gateway-token\"", "\"\(gatewayToken)\""),
        ]
        for (shipped, test) in replacements {
            guard config.components(separatedBy: shipped).count == 2 else {
                throw TestNodeError.unexpected("deploy/nginx/gatehouse.conf no longer has exactly one `\(shipped)`; update this test with it")
            }
            config = config.replacingOccurrences(of: shipped, with: test)
        }
        return config
    }

    @Test(.enabled(if: NginxProcess.executable != nil, "nginx is not installed and could not be (scripts/test installs Debian's nginx)"))
    func theShippedConfigAnswers200_401_403And429WithTheirHeaders() async throws {
        let executable = try #require(Subprocess.gatehouseExecutable(), "the gatehouse executable is not built")
        let node = try await ServeProcess.start(
            executable: executable, dataDirectory: TemporaryDirectory.make(), adminToken: Self.adminToken,
            environment: ["GATEHOUSE_GATEWAY_TOKENS": Self.gatewayToken])
        defer { node.kill9() }
        let directory = TemporaryDirectory.make()
        let listen = try FreePort.find()
        let config = try Self.derivedConfig(directory: directory, listen: listen, gatehouse: node.endpoints.http.port, app: try FreePort.find())
        let nginx = try await NginxProcess(config: config, directory: directory, port: listen)
        defer { nginx.stop() }

        let admin = "http://127.0.0.1:\(node.endpoints.http.port)/v1/keys"
        let ordersKey = try await HTTP.json("POST", admin, token: Self.adminToken, body: [
            "owner": "acct_nginx", "scopes": ["orders:read"], "limits": [["name": "hour", "limit": 2, "window_ms": 3_600_000]],
        ])
        let readerKey = try await HTTP.json("POST", admin, token: Self.adminToken, body: ["owner": "acct_reader", "scopes": ["read"]])
        let orders = try #require(ordersKey["key"] as? String, "create answered \(ordersKey)")
        let ordersID = try #require(ordersKey["id"] as? String)
        let reader = try #require(readerKey["key"] as? String, "create answered \(readerKey)")
        let base = "http://127.0.0.1:\(listen)"

        // 200: the application answers and is told whose key it was, whatever the client claims;
        // the client gets the key's limit. A POST's check is a GET to Gatehouse all the same.
        let allowed = try await CurlReply.fetch(
            base + "/orders/42", method: "POST", headers: ["X-API-Key": orders, "X-Gatehouse-Key-Id": "key_forged"], body: "{}")
        #expect(allowed.status == 200, "\(allowed) \(nginx.errorLog)")
        #expect(allowed.body.contains("key_id=\(ordersID) owner=acct_nginx method=POST"), "\(allowed.body)")
        #expect(allowed.headers["ratelimit-limit"] == "2")
        #expect(allowed.headers["ratelimit-remaining"] == "1")
        #expect(allowed.headers["ratelimit-reset"].flatMap(Int.init).map { (1...3600).contains($0) } == true, "\(allowed.headers)")
        #expect(allowed.headers["retry-after"] == nil)

        // 401: no key, or an unknown one; the Bearer challenge reaches the client.
        let unknown = try await CurlReply.fetch(base + "/", headers: ["Authorization": "Bearer gk_000000000000000000000000000000000000"])
        #expect(unknown.status == 401, "\(unknown)")
        #expect(unknown.headers["www-authenticate"] == "Bearer")
        #expect(["MALFORMED", "NOT_FOUND"].contains(unknown.headers["x-gatehouse-code"] ?? ""), "\(unknown.headers)")
        let missing = try await CurlReply.fetch(base + "/")
        #expect(missing.status == 401 && missing.headers["x-gatehouse-code"] == "MALFORMED", "\(missing)")

        // 403: a valid key without the location's scope; it stays a 403, not a 429.
        let forbidden = try await CurlReply.fetch(base + "/orders/42", headers: ["X-API-Key": reader])
        #expect(forbidden.status == 403, "\(forbidden)")
        #expect(forbidden.headers["x-gatehouse-code"] == "INSUFFICIENT_SCOPE")
        #expect(forbidden.headers["retry-after"] == nil)
        let readerElsewhere = try await CurlReply.fetch(base + "/", headers: ["X-API-Key": reader])
        #expect(readerElsewhere.status == 200, "\(readerElsewhere)")

        // 429: the second request uses the last of the limit, the third is refused, with
        // Retry-After and the RateLimit headers reaching the client.
        let last = try await CurlReply.fetch(base + "/orders/42", headers: ["X-API-Key": orders])
        #expect(last.status == 200 && last.headers["ratelimit-remaining"] == "0", "\(last)")
        let limited = try await CurlReply.fetch(base + "/orders/42", headers: ["X-API-Key": orders])
        #expect(limited.status == 429, "\(limited) \(nginx.errorLog)")
        #expect(limited.headers["x-gatehouse-code"] == "RATE_LIMITED")
        // A sliding window: the request fits again once the earlier hits weigh less, up to two windows away.
        #expect(limited.headers["retry-after"].flatMap(Int.init).map { (1...7200).contains($0) } == true, "\(limited.headers)")
        #expect(limited.headers["ratelimit-limit"] == "2")
        #expect(limited.headers["ratelimit-remaining"] == "0")
        #expect(limited.headers["ratelimit-reset"] != nil)
        #expect(!limited.body.contains("app:"), "the application must not be reached: \(limited.body)")
    }
}
