import ArgumentParser
import Foundation
import GatehouseNode
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Options every command of the admin API shares: where the node is, the admin token, and
/// `--json`.
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

    /// Sends a request and decodes the answer; with `--json` the answer is printed as it came
    /// (pretty, keys sorted) and the caller prints nothing more. Exits with the API's error.
    /// `decoder`: a plain one for the node's own types, which name their snake_case keys.
    func call<Answer: Decodable>(
        _ method: String, _ path: String, body: [String: Any]? = nil, as answer: Answer.Type,
        decoder: JSONDecoder = AdminConnection.decoder
    ) async throws -> Answer {
        let data = try await send(
            method, path, body: try body.map { try JSONSerialization.data(withJSONObject: $0) }, contentType: "application/json")
        if json { print(try JSONOutput.pretty(JSONSerialization.jsonObject(with: data))) }
        do {
            return try decoder.decode(Answer.self, from: data)
        } catch {
            throw CLIError("the node's answer to \(method) \(path) is not what this CLI reads (\(error)); is the node a different version? (--json prints it)")
        }
    }

    /// Reads the admin API's snake_case JSON.
    static var decoder: JSONDecoder {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return decoder
    }

    /// The body of a 2xx answer to a request with `body` (of `contentType`), printing nothing.
    func send(_ method: String, _ path: String, body: Data?, contentType: String) async throws -> Data {
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
        return try Self.checked(status: (response as? HTTPURLResponse)?.statusCode ?? 0, data)
    }

    /// `data` of a 2xx answer; any other status becomes the API's error as a `CLIError`.
    static func checked(status: Int, _ data: Data) throws -> Data {
        guard (200..<300).contains(status) else {
            let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:]
            let error = object["error"] as? [String: Any]
            let field = (error?["field"] as? String).map { " (\($0))" } ?? ""
            throw CLIError("HTTP \(status) \(error?["code"] as? String ?? "")\(field): \(error?["message"] as? String ?? String(decoding: data, as: UTF8.self))")
        }
        return data
    }
}

/// A failure to report to the user and exit non-zero.
struct CLIError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
