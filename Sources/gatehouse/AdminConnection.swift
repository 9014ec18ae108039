import ArgumentParser
import Foundation
import GatehouseNode
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Options every `gatehouse keys` command shares: where the node is and the admin token.
struct AdminConnection: ParsableArguments {
    @Option(help: "The node's HTTP API.")
    var url = "http://127.0.0.1:7380"

    @Option(help: "Admin token (default: $GATEHOUSE_ADMIN_TOKEN, else the one in --data-dir).")
    var adminToken: String?

    @Option(help: "Where a local node keeps its secrets, to find the admin token.")
    var dataDir = "./gatehouse-data"

    @Flag(help: "Print the JSON answer instead of a table.")
    var json = false

    func token() throws -> String {
        if let adminToken { return adminToken }
        if let token = ProcessInfo.processInfo.environment[ConfigLoader.Environment.adminToken] { return token }
        let path = "\(dataDir)/\(NodeSecrets.fileName)"
        if let data = FileManager.default.contents(atPath: path),
            let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
            let token = object["admin_token"] as? String
        {
            return token
        }
        throw ValidationError("no admin token: pass --admin-token, set \(ConfigLoader.Environment.adminToken), or run next to the node's \(path)")
    }

    /// Sends a request and returns the decoded JSON object, or exits with the API's error.
    func call(_ method: String, _ path: String, body: [String: Any]? = nil) async throws -> [String: Any] {
        try await call(method, path, data: try body.map { try JSONSerialization.data(withJSONObject: $0) }, contentType: "application/json")
    }

    /// The same with a body already encoded (`contentType` names its form).
    func call(_ method: String, _ path: String, data body: Data?, contentType: String, printJSON: Bool = true) async throws -> [String: Any] {
        guard let endpoint = URL(string: url + path) else { throw ValidationError("--url \(url) is not a URL") }
        var request = URLRequest(url: endpoint)
        request.httpMethod = method
        request.setValue("Bearer \(try token())", forHTTPHeaderField: "Authorization")
        if let body {
            request.setValue(contentType, forHTTPHeaderField: "Content-Type")
            request.httpBody = body
        }
        let data: Data
        let response: URLResponse
        do {
            (data, response) = try await URLSession.shared.data(for: request)
        } catch {
            throw CLIError("cannot reach \(url): \(error.localizedDescription). Is the node running (gatehouse serve)?")
        }
        let object = try Self.answer(status: (response as? HTTPURLResponse)?.statusCode ?? 0, data)
        if json && printJSON {
            let pretty = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
            print(String(decoding: pretty, as: UTF8.self))
        }
        return object
    }
}

extension AdminConnection {
    /// The JSON object of a 2xx answer; any other status becomes the API's error as a `CLIError`.
    static func answer(status: Int, _ data: Data) throws -> [String: Any] {
        let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:]
        guard (200..<300).contains(status) else {
            let error = object["error"] as? [String: Any]
            let field = (error?["field"] as? String).map { " (\($0))" } ?? ""
            throw CLIError("HTTP \(status) \(error?["code"] as? String ?? "")\(field): \(error?["message"] as? String ?? String(decoding: data, as: UTF8.self))")
        }
        return object
    }
}

/// A failure to report to the user and exit non-zero.
struct CLIError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
