import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// The few calls of a node's HTTP API the load generator makes outside the measurement:
/// creating and revoking the population's keys, and reading `/metrics`.
struct AdminAPI: Sendable {
    var endpoint: Endpoint
    var adminToken: String?

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    private var base: String { "http://\(endpoint)" }

    /// Creates a key and returns its id and secret.
    func createKey(name: String, limit: Int64) async throws -> (id: String, secret: String) {
        let body: [String: Any] = [
            "name": name, "owner": "bench", "scopes": ["read", "orders:*"],
            "limits": [["name": "bench", "limit": limit, "window_ms": 3_600_000]],
        ]
        let answer = try await call("POST", "/v1/keys", body: body)
        guard let id = answer["id"] as? String, let secret = answer["key"] as? String else {
            throw Failure(description: "POST /v1/keys answered without id and key: \(answer["error"] ?? "?")")
        }
        return (id, secret)
    }

    func revokeKey(id: String) async throws {
        _ = try await call("POST", "/v1/keys/\(id)/revoke", body: nil)
    }

    /// The node's counters and gauges (`name{labels}` → value), histogram buckets left out.
    func scrapeMetrics() async throws -> [String: Double] {
        let (data, response) = try await URLSession.shared.data(from: URL(string: base + "/metrics")!)
        guard (response as? HTTPURLResponse)?.statusCode == 200 else { throw Failure(description: "GET /metrics failed") }
        return Self.parsePrometheus(String(decoding: data, as: UTF8.self))
    }

    static func parsePrometheus(_ text: String) -> [String: Double] {
        var values: [String: Double] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else { continue }
            let name = String(line[..<space])
            if name.contains("_bucket{") { continue }
            values[name] = value
        }
        return values
    }

    private func call(_ method: String, _ path: String, body: [String: Any]?) async throws -> [String: Any] {
        var request = URLRequest(url: URL(string: base + path)!)
        request.httpMethod = method
        if let adminToken { request.setValue("Bearer \(adminToken)", forHTTPHeaderField: "Authorization") }
        if let body {
            request.httpBody = try JSONSerialization.data(withJSONObject: body)
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        }
        let (data, response) = try await URLSession.shared.data(for: request)
        let status = (response as? HTTPURLResponse)?.statusCode ?? 0
        let json = (try? JSONSerialization.jsonObject(with: data) as? [String: Any]) ?? [:]
        guard (200..<300).contains(status) else {
            throw Failure(description: "\(method) \(path) answered \(status): \(json["error"] ?? String(decoding: data.prefix(200), as: UTF8.self))")
        }
        return json
    }
}
