import ArgumentParser
import GatehouseClient
import NIOCore

/// What one request of a run is.
enum Workload: String, CaseIterable, Sendable, ExpressibleByArgument {
    /// `VERIFY key SCOPE orders:read` over RESP (Gatehouse).
    case verify
    /// `VERIFY key SCOPE orders:read FIELDS code,remaining` over RESP: the compact reply a
    /// gateway that acts only on the verdict asks for.
    case verifyVerdict = "verify-verdict"
    /// `THROTTLE bench:<i> limit 60000` over RESP (Gatehouse).
    case throttle
    /// `POST /v1/verify` with a JSON body (Gatehouse HTTP).
    case httpVerify = "http-verify"
    /// `GET /v1/auth?scope=orders:read` with `X-API-Key` (Gatehouse forward auth).
    case httpAuth = "http-auth"
    /// `GET bench:get:<i>` (plain Redis).
    case get
    /// `EVALSHA <key check> 0 key orders:read` (Redis running the Lua key check).
    case lua

    var framer: ReplyFramer { usesHTTP ? .http : .resp }
    var usesHTTP: Bool { self == .httpVerify || self == .httpAuth }
    var target: Target { (self == .get || self == .lua) ? .redis : .gatehouse }
}

/// The kind of server a run drives.
enum Target: String, CaseIterable, Sendable, ExpressibleByArgument {
    case gatehouse
    case redis
}

/// Every request a run can send, encoded once before the clock starts: index `i` is the
/// request for key `i` of the population, so sending is a buffer copy.
struct RequestCatalog: Sendable {
    let requests: [ByteBuffer]

    static let scope = "orders:read"
    static let verdictFields = "code,remaining"
    /// The limit THROTTLE and valid keys use: never reached by a run.
    static let unreachableLimit: Int64 = 1_000_000_000_000

    init(workload: Workload, population: KeyPopulation, gatewayToken: String?, luaSHA: String?) {
        var requests: [ByteBuffer] = []
        requests.reserveCapacity(population.secrets.count)
        for (index, secret) in population.secrets.enumerated() {
            let kind = population.kinds[index]
            switch workload {
            case .verify:
                requests.append(GatehouseClient.encode(["VERIFY", secret, "SCOPE", Self.scope]))
            case .verifyVerdict:
                requests.append(GatehouseClient.encode(["VERIFY", secret, "SCOPE", Self.scope, "FIELDS", Self.verdictFields]))
            case .throttle:
                let limit = kind == .rateLimited ? 1 : Self.unreachableLimit
                requests.append(GatehouseClient.encode(["THROTTLE", "bench:\(index)", String(limit), "60000"]))
            case .get:
                requests.append(GatehouseClient.encode(["GET", "bench:get:\(index)"]))
            case .lua:
                requests.append(GatehouseClient.encode(["EVALSHA", luaSHA ?? "", "0", secret, Self.scope]))
            case .httpVerify:
                let body = #"{"key":"\#(secret)","scopes":["\#(Self.scope)"]}"#
                var head = "POST /v1/verify HTTP/1.1\r\nHost: gatehouse\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n"
                if let gatewayToken { head += "Authorization: Bearer \(gatewayToken)\r\n" }
                requests.append(ByteBuffer(string: head + "\r\n" + body))
            case .httpAuth:
                var head = "GET /v1/auth?scope=\(Self.scope) HTTP/1.1\r\nHost: gatehouse\r\nX-API-Key: \(secret)\r\n"
                if let gatewayToken { head += "X-Gatehouse-Token: \(gatewayToken)\r\n" }
                requests.append(ByteBuffer(string: head + "\r\n"))
            }
        }
        self.requests = requests
    }
}
