import Foundation
import GatehouseCore
import GatehouseMembership
import HTTPTypes
import Hummingbird
import Logging
import NIOCore

/// Whether the node has finished starting (storage loaded, listeners bound).
public final class Readiness: Sendable {
    private let ready = LockedBox(false)
    public init() {}
    public var isReady: Bool { ready.withLock { $0 } }
    public func markReady() { ready.withLock { $0 = true } }
}

/// Hummingbird's basic context plus the connection's peer address, which the failed-attempt
/// throttle needs (directly, or as the proxy whose forwarded headers are believed).
struct GatehouseRequestContext: RequestContext, RemoteAddressRequestContext {
    var coreContext: CoreRequestContextStorage
    let remoteAddress: SocketAddress?
    /// Set by `RequestIDMiddleware` from `X-Request-Id`, or generated.
    var requestID: RequestID
    /// Set by `AccessLogMiddleware` when the HTTP access log is on.
    var accessNotes: AccessNotes?

    init(source: ApplicationRequestContextSource) {
        coreContext = CoreRequestContextStorage(source: source)
        remoteAddress = source.channel.remoteAddress
        requestID = .generate()
    }
}

/// The HTTP API's routes (see `openapi.yaml`).
struct HTTPAPI: Sendable {
    var service: KeyService
    var metrics: NodeMetrics
    var authenticator: GatewayAuthenticator
    /// The admin tokens, with their names and permissions.
    var admins: AdminAuthenticator
    var trustedProxies: TrustedProxies
    var readiness: Readiness
    var nodeID: String
    var maxBodyBytes: Int
    /// The body limit of `POST /v1/keys/import` alone.
    var maxImportBodyBytes: Int
    var logger: Logger
    var gossip: GossipService?
    var deprecations: DeprecationRegistry = .product
    /// `nil`: no HTTP access lines (`access_log.http: off`).
    var accessLog: AccessLog?
    /// Set once forwarded headers from a peer that is not a trusted proxy were ignored and
    /// logged: a proxy missing from `trusted_proxies` makes every client count as the proxy.
    let warnedIgnoredForwarding = LockedBox(false)

    static let maxListLimit = 1000
    static let defaultListLimit = 100

    func router() -> Router<GatehouseRequestContext> {
        // HEAD is answered for every GET (RFC 9110 §9.1: general-purpose servers support both).
        let router = Router(context: GatehouseRequestContext.self, options: .autoGenerateHeadEndpoints)
        let routes = RouteTable()
        // Outermost first: the id is set before anything logs, the access line sees every
        // answer, and APIVersionMiddleware turns errors into answers for both.
        router.add(middleware: RequestIDMiddleware())
        router.add(middleware: AccessLogMiddleware(log: accessLog, trustedProxies: trustedProxies))
        router.add(middleware: APIVersionMiddleware())
        router.add(middleware: ErrorMetricsMiddleware(metrics: metrics, routes: routes))
        router.add(middleware: DeclaredBodyLimitMiddleware(maxBodyBytes: maxBodyBytes, maxImportBodyBytes: maxImportBodyBytes))
        router.add(middleware: DeprecationMiddleware(registry: deprecations, maxBodyBytes: maxBodyBytes, logger: logger))
        /// Registers a route and records its path and method for the 405 answers.
        func on(
            _ method: HTTPRequest.Method, _ path: String,
            _ handler: @escaping @Sendable (Request, GatehouseRequestContext) async throws -> Response
        ) {
            routes.add(path, method)
            router.on(RouterPath(path), method: method, use: handler)
        }
        /// Registers an admin route: the caller's token must have the permission
        /// `AdminRoutes.table` gives the route. The handler gets who is calling, for the audit
        /// trail, and a logger that names them.
        func admin(
            _ method: HTTPRequest.Method, _ path: String,
            _ handler: @escaping @Sendable (Request, GatehouseRequestContext, AuditOrigin) async throws -> Response
        ) {
            guard let permission = AdminRoutes.permission(method, path) else {
                preconditionFailure("\(method) \(path) is not in AdminRoutes.table; give it its permission there")
            }
            on(method, path) { request, context in
                let origin = try authorize(request, context, needing: permission)
                var context = context
                context.logger[metadataKey: "actor"] = "\(origin.actor)"
                let keyID = context.parameters.get("id")
                context.accessNotes?.note { $0.actor = origin.actor; $0.keyID = keyID }
                return try await handler(request, context, origin)
            }
        }
        on(.get, "/healthz") { _, _ in
            try JSONBody.response(["status": "ok", "node_id": nodeID, "version": GatehouseVersion.current])
        }
        on(.get, "/readyz") { _, _ in
            // A node still getting its own counts back from its peers would answer
            // default-mode limits without the admissions it made before its restart.
            let ready = readiness.isReady && !service.isRecoveringOwnState
            return try JSONBody.response(["ready": ready], status: ready ? .ok : .serviceUnavailable)
        }
        on(.get, "/metrics") { _, _ in
            metrics.keys.set(to: Double(service.keyCount))
            let commits = service.adminCommits
            metrics.adminCommits.set(to: Double(commits.commits))
            metrics.adminCommittedWrites.set(to: Double(commits.writes))
            metrics.throttleBuckets.set(to: Double(service.throttleBucketCount))
            metrics.throttleEvictions.set(to: Double(service.throttleEvictions))
            let sources = service.failedAttemptSources
            metrics.failedAttemptSources.set(to: Double(sources.tracked))
            metrics.failedAttemptEvictions.set(to: Double(sources.evicted))
            return Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4"],
                body: .init(byteBuffer: ByteBuffer(bytes: metrics.registry.emitToBuffer())))
        }

        admin(.post, "/v1/keys") { request, context, origin in
            let body = try await JSONBody.decode(CreateKeyBody.self, from: request, limit: maxBodyBytes)
            var draft = body.draft
            if !body.prefixGiven { draft.prefix = service.defaultPrefix }
            let created = try await keyCall { () async throws(KeyServiceError) in try await service.create(draft, origin: origin) }
            await service.waitForPush()
            metrics.adminWrites.increment()
            context.logger.info("key created", metadata: ["key_id": "\(created.record.id)", "owner": "\(created.record.owner)"])
            let record = created.record
            context.accessNotes?.note { $0.keyID = record.id; $0.owner = record.owner }
            return try JSONBody.response(
                KeyView(record: created.record, creditsRemaining: created.record.credits, secret: created.secret), status: .created)
        }
        admin(.post, Self.importPath) { request, context, origin in
            try await importKeys(request, context, origin: origin)
        }
        admin(.get, "/v1/audit") { request, _, _ in
            try auditQuery(request)
        }
        admin(.get, "/v1/events") { request, _, _ in
            try await eventsQuery(request)
        }
        admin(.get, "/v1/keys") { request, _, _ in
            let query = request.uri.queryParameters
            var limit = Self.defaultListLimit
            if let text = query["limit"] {
                guard let value = Int(text), (1...Self.maxListLimit).contains(value) else {
                    throw APIError.invalid("limit", "must be an integer from 1 to \(Self.maxListLimit)")
                }
                limit = value
            }
            let owner = query["owner"].map(String.init)
            let cursor = query["cursor"].map(String.init)
            let page = service.list(owner: owner, after: cursor, limit: limit + 1)
            let shown = page.prefix(limit)
            return try JSONBody.response(KeyListView(
                keys: shown.map { KeyView(record: $0.record, creditsRemaining: $0.creditsRemaining) },
                nextCursor: page.count > limit ? shown.last?.record.id : nil))
        }
        admin(.get, "/v1/keys/:id") { _, context, _ in
            let id = try context.parameters.require("id")
            guard let found = service.key(id: id) else { throw notFound(id) }
            return try JSONBody.response(KeyView(record: found.record, creditsRemaining: found.creditsRemaining))
        }
        admin(.patch, "/v1/keys/:id") { request, context, origin in
            let id = try context.parameters.require("id")
            let body = try await JSONBody.decode(UpdateKeyBody.self, from: request, limit: maxBodyBytes)
            let record = try await keyCall { () async throws(KeyServiceError) in try await service.update(id: id, body.changes, origin: origin) }
            await service.waitForPush()
            metrics.adminWrites.increment()
            context.logger.info("key updated", metadata: ["key_id": "\(id)"])
            return try JSONBody.response(KeyView(record: record, creditsRemaining: service.key(id: id)?.creditsRemaining))
        }
        admin(.post, "/v1/keys/:id/revoke") { request, context, origin in
            let id = try context.parameters.require("id")
            let record = try await keyCall { () async throws(KeyServiceError) in try await service.revoke(id: id, origin: origin) }
            await service.waitForPush()
            metrics.adminWrites.increment()
            context.logger.info("key revoked", metadata: ["key_id": "\(id)"])
            return try JSONBody.response(KeyView(record: record, creditsRemaining: service.key(id: id)?.creditsRemaining))
        }
        admin(.post, "/v1/keys/:id/rotate") { request, context, origin in
            let id = try context.parameters.require("id")
            let body = try await decodeOptional(RotateKeyBody.self, from: request) ?? RotateKeyBody()
            let rotated = try await keyCall { () async throws(KeyServiceError) in try await service.rotate(id: id, graceMs: body.graceMs, origin: origin) }
            await service.waitForPush()
            metrics.adminWrites.increment()
            context.logger.info("key rotated", metadata: ["key_id": "\(id)", "grace_ms": "\(body.graceMs)"])
            return try JSONBody.response(KeyView(
                record: rotated.record, creditsRemaining: service.key(id: id)?.creditsRemaining, secret: rotated.secret))
        }

        on(.post, "/v1/verify") { request, context in
            try requireGateway(request.headers[.authorization].flatMap(BearerToken.parse), from: clientSource(request, context), request, context)
            let body = try await JSONBody.decode(VerifyBody.self, from: request, limit: maxBodyBytes)
            guard body.cost >= 0 else { throw APIError.invalid("cost", "must be 0 or more") }
            let verify = VerifyRequest(scopes: body.scopes, cost: body.cost, source: body.ip.map(SourceAddress.identity))
            let answer = service.verify(key: body.key, verify)
            metrics.countVerify(answer.code)
            service.events.verified(answer.code, keyID: answer.keyID, source: verify.source) {
                .init(sourceIP: body.ip ?? clientAddress(request, context).map { "\($0)" }, requestID: context.requestID.value)
            }
            context.noteVerify(answer)
            if let requestID = body.requestID, context.logger.logLevel <= .debug {
                context.logger.debug("verify", metadata: ["client_request_id": "\(requestID.prefix(128))", "code": "\(answer.code.rawValue)"])
            }
            return try JSONBody.response(VerifyView(answer: answer))
        }
        admin(.get, "/v1/cluster/members") { _, _, _ in
            let members = await gossip?.members() ?? []
            return try JSONBody.response(ClusterMembersView(nodeID: nodeID, clustered: gossip != nil, members: members))
        }
        admin(.get, "/v1/cluster/status") { _, _, _ in
            let members = await gossip?.members() ?? []
            var byState: [String: Int] = [:]
            for member in members { byState[member.status.description, default: 0] += 1 }
            let digest = service.digest()
            return try JSONBody.response(ClusterStatusView(
                nodeID: nodeID, clustered: gossip != nil, membersByState: byState, memberCount: members.count,
                keyCount: service.keyCount, keyDigest: String(digest.fingerprint, radix: 16),
                counterWindows: service.counterWindowCount,
                lastAntiEntropy: metrics.replication.lastAntiEntropyAt.map(JSONTime.format)))
        }
        on(.get, "/v1/auth") { request, context in
            let source = clientSource(request, context)
            let mode = try forwardAuthMode(request)
            // A bad gateway token is the proxy's misconfiguration, not the client's bad key:
            // no `WWW-Authenticate` challenge that the proxy would pass on to the client.
            do {
                try requireGateway(request.headers[.gatehouseToken], from: source, request, context)
            } catch var error as APIError where error.kind == .unauthorized {
                error.extraHeaders[.wwwAuthenticate] = nil
                error.extraHeaders[.gatehouseCode] = "GATEWAY_UNAUTHORIZED"
                throw error
            } catch var error as APIError where error.kind == .sourceThrottled {
                error.status = ForwardAuthDecision.overLimitStatus(mode)
                error.extraHeaders[.gatehouseCode] = VerifyCode.sourceThrottled.rawValue
                throw error
            }
            return try forwardAuth(request, context, mode: mode, source: source)
        }
        return router
    }

    // MARK: Forward auth

    /// nginx `auth_request`, Traefik ForwardAuth, Envoy ext_authz: the answer is the status
    /// (see `ForwardAuthDecision`; `?mode=nginx` refuses over-limit requests with 403).
    func forwardAuth(_ request: Request, _ context: GatehouseRequestContext, mode: ForwardAuthMode, source: SourceIdentity?) throws -> Response {
        let key = request.headers[.authorization].flatMap(BearerToken.parse) ?? request.headers[.apiKey] ?? ""
        let query = request.uri.queryParameters
        var scopes: [String] = []
        for value in query[values: "scope"] {
            scopes.append(contentsOf: value.split(separator: ",").map(String.init))
        }
        var cost: Int64 = 1
        if let text = query["cost"] {
            guard let value = Int64(text), value >= 0 else { throw APIError.invalid("cost", "must be an integer, 0 or more") }
            cost = value
        }
        let answer = service.verify(key: key, VerifyRequest(scopes: scopes, cost: cost, source: source))
        metrics.countVerify(answer.code)
        service.events.verified(answer.code, keyID: answer.keyID, source: source) { origin(request, context) }
        context.noteVerify(answer)
        let decision = ForwardAuthDecision(answer: answer, mode: mode, failedAttemptWindowMs: service.failedAttemptWindowMs)
        return try JSONBody.response(VerifyView(answer: answer), status: decision.status, headers: decision.headers)
    }

    /// The `mode` query parameter of `/v1/auth`: `standard` (the default) or `nginx`.
    private func forwardAuthMode(_ request: Request) throws -> ForwardAuthMode {
        guard let text = request.uri.queryParameters["mode"] else { return .standard }
        guard let mode = ForwardAuthMode(rawValue: String(text)) else {
            throw APIError.invalid("mode", "must be standard or nginx (nginx: over-limit refusals are 403 with X-Gatehouse-Code and Retry-After)")
        }
        return mode
    }

    /// The caller's source for the failed-attempt throttle: the peer, or when the peer is a
    /// trusted proxy, the client its forwarded headers name (see `TrustedProxies`).
    private func clientSource(_ request: Request, _ context: GatehouseRequestContext) -> SourceIdentity? {
        guard let peer = context.remoteAddress.flatMap(IPAddress.init) else { return nil }
        if !trustedProxies.contains(peer), request.headers[.xForwardedFor] != nil || request.headers[.xRealIP] != nil,
            !warnedIgnoredForwarding.withLock({ warned in defer { warned = true }; return warned })
        {
            logger.warning(
                "X-Forwarded-For / X-Real-IP ignored: the peer is not in trusted_proxies, so it counts as the client for the failed-attempt throttle; list your proxies there",
                metadata: ["peer": "\(peer)"])
        }
        let client = trustedProxies.clientAddress(
            peer: peer, forwardedFor: request.headers[values: .xForwardedFor], realIP: request.headers[.xRealIP])
        return client.sourceIdentity
    }

    // MARK: Helpers

    /// Who presents which admin token, and whether it may do `permission`: 401 without a
    /// valid admin token (a failed attempt of the source), 403 naming the permission when
    /// the token lacks it.
    private func authorize(_ request: Request, _ context: GatehouseRequestContext, needing permission: AdminPermission) throws -> AuditOrigin {
        guard let token = request.headers[.authorization].flatMap(BearerToken.parse) else {
            throw APIError.unauthorized("this endpoint needs an admin token: Authorization: Bearer <admin token>")
        }
        var credential: AdminCredential?
        try check(from: clientSource(request, context), refusal: "the admin token is not valid", event: .adminAuthFailed, origin: origin(request, context)) {
            credential = admins.identify(token.utf8)
            return credential != nil
        }
        guard let credential else { throw APIError.unauthorized("the admin token is not valid") }
        guard credential.permissions.contains(permission) else {
            context.logger.notice("admin request refused: permission missing", metadata: ["actor": "\(credential.name)", "permission": "\(permission.rawValue)"])
            throw APIError.missingPermission(permission)
        }
        return AuditOrigin(actor: credential.name, source: clientAddress(request, context).map { "\($0)" } ?? "", requestID: context.requestID)
    }

    /// The client's address as the audit trail records it: the peer, or the client a trusted
    /// proxy names.
    private func clientAddress(_ request: Request, _ context: GatehouseRequestContext) -> IPAddress? {
        guard let peer = context.remoteAddress.flatMap(IPAddress.init) else { return nil }
        return trustedProxies.clientAddress(peer: peer, forwardedFor: request.headers[values: .xForwardedFor], realIP: request.headers[.xRealIP])
    }

    private func requireGateway(_ token: String?, from source: SourceIdentity?, _ request: Request, _ context: GatehouseRequestContext) throws {
        guard authenticator.isRequired else { return }
        guard let token else {
            throw APIError.unauthorized("this endpoint needs a gateway token")
        }
        try check(from: source, refusal: "the gateway token is not valid", event: .gatewayAuthFailed, origin: origin(request, context)) {
            authenticator.acceptsGateway(token.utf8)
        }
    }

    /// A token check under the failed-attempt throttle: a wrong token counts against its
    /// source (and is a security event), and a source over the limit gets 429 without its
    /// token being compared.
    private func check(
        from source: SourceIdentity?, refusal: String, event: SecurityEventType, origin: @autoclosure () -> SecurityEventLog.Origin,
        _ accepts: () -> Bool
    ) throws {
        switch service.checkCredential(from: source, accepts) {
        case .accepted:
            return
        case .refused:
            service.events.credentialRefused(event, origin: origin())
            throw APIError.unauthorized(refusal)
        case .sourceThrottled:
            service.events.sourceThrottled(source, origin: origin)
            throw APIError.sourceThrottled(retryAfterMs: service.failedAttemptWindowMs)
        }
    }

    /// Where a request came from, for its security events: the client's address and the request id.
    private func origin(_ request: Request, _ context: GatehouseRequestContext) -> SecurityEventLog.Origin {
        .init(sourceIP: clientAddress(request, context).map { "\($0)" }, requestID: context.requestID.value)
    }

    static let importPath = "/v1/keys/import"

    /// `GET /v1/audit`: entries newest first, filtered by `key_id`, `actor`, `since` and
    /// `until` (RFC 3339), a page of `limit` at a time (`cursor` from the previous page).
    private func auditQuery(_ request: Request) throws -> Response {
        let parameters = request.uri.queryParameters
        var query = AuditQuery(limit: Self.defaultListLimit)
        if let text = parameters["limit"] {
            guard let value = Int(text), (1...Self.maxListLimit).contains(value) else {
                throw APIError.invalid("limit", "must be an integer from 1 to \(Self.maxListLimit)")
            }
            query.limit = value
        }
        if let keyID = parameters["key_id"] {
            // Counted in code points, as the spec's maxLength is; ids are ASCII, so nothing longer can match.
            guard !keyID.isEmpty, keyID.unicodeScalars.count <= AuditRules.maxKeyIDBytes else {
                throw APIError.invalid("key_id", "must be a key id (1 to \(AuditRules.maxKeyIDBytes) characters)")
            }
            query.keyID = String(keyID)
            query.keyCreatedAtMs = service.key(id: String(keyID))?.record.createdAt
        }
        if let actor = parameters["actor"] {
            guard AuditRules.isName(String(actor), maxBytes: AuditRules.maxActorBytes) else {
                throw APIError.invalid("actor", "must be an admin token's name, such as admin or ci-deployer")
            }
            query.actor = String(actor)
        }
        for (name, keyPath) in [("since", \AuditQuery.sinceMs), ("until", \AuditQuery.untilMs)] {
            guard let text = parameters[Substring(name)] else { continue }
            guard let ms = JSONTime.parse(String(text)) else {
                throw APIError.invalid(name, "must be an RFC 3339 time, such as 2026-01-31T00:00:00Z")
            }
            query[keyPath: keyPath] = ms
        }
        if let text = parameters["cursor"] {
            guard let cursor = AuditCursor(parsing: String(text)) else {
                throw APIError.invalid("cursor", "is not a cursor from a previous page's next_cursor")
            }
            query.before = cursor
        }
        let pageSize = query.limit
        query.limit += 1
        let found: [AuditEntry]
        do {
            found = try service.audit.query(query)
        } catch {
            logger.error("audit query failed", metadata: ["error": "\(error)"])
            throw APIError(.serviceUnavailable, code: "storage", "the audit trail could not be read; retry, and check the node's disk", kind: .storage)
        }
        let shown = found.prefix(pageSize)
        return try JSONBody.response(AuditListView(
            entries: shown.map { AuditEntryView(entry: $0) },
            nextCursor: found.count > pageSize ? shown.last.map { AuditCursor($0).description } : nil))
    }

    /// `POST /v1/keys/import`: NDJSON in, one result per line out. Lines that do not parse
    /// or are refused by the key rules are reported and skipped; the others are written in one
    /// transaction and replicated together. Nothing is written when the disk fails (503).
    private func importKeys(_ request: Request, _ context: GatehouseRequestContext, origin: AuditOrigin) async throws -> Response {
        let body: ByteBuffer
        do {
            body = try await request.body.collect(upTo: maxImportBodyBytes)
        } catch is NIOTooManyBytesError {
            throw APIError.bodyTooLarge(limit: maxImportBodyBytes)
        }
        guard let lines = ImportLines.split(body, atMost: KeyService.maxImportBatch) else {
            throw APIError.invalid("body", "at most \(KeyService.maxImportBatch) keys per request; send the rest in further requests")
        }
        guard !lines.isEmpty else { throw APIError.badJSON("the body needs one JSON object per line (NDJSON), one per key") }
        // Decoding and writing block (every core, then the writer's lock and the disk): done
        // on a Dispatch thread, so that two imports at once overlap — one decoding while the
        // other writes — without taking the cooperative pool.
        let (maxLineBytes, defaultPrefix, service) = (maxBodyBytes, service.defaultPrefix, service)
        let (decoded, outcomes) = await OffThePool.run { () -> ([Result<KeyImportEntry, APIError>], [KeyImportOutcome]) in
            // Lines are decoded on every core: JSON decoding is the largest part of an import.
            let decoded = ParallelMap.map(lines.map { Data($0.bytes) }) { line -> Result<KeyImportEntry, APIError> in
                Result { () throws(APIError) in
                    guard line.count <= maxLineBytes else { throw APIError.bodyTooLarge(limit: maxLineBytes) }
                    let parsed = try JSONBody.decode(ImportKeyLine.self, from: line)
                    var draft = parsed.body.draft
                    if !parsed.body.prefixGiven { draft.prefix = defaultPrefix }
                    return KeyImportEntry(draft: draft, secret: parsed.secret)
                }
            }
            let entries = decoded.compactMap { try? $0.get() }
            return (decoded, service.importKeys(entries, origin: origin))
        }
        var results = lines.map { ImportView.LineResult(line: $0.number) }
        var positions: [Int] = []
        positions.reserveCapacity(lines.count)
        for (position, line) in decoded.enumerated() {
            switch line {
            case .success:
                positions.append(position)
            case .failure(let error):
                results[position].error = ImportView.ErrorView(code: error.code, field: error.field, message: error.message)
            }
        }
        var imported = 0
        for (position, outcome) in zip(positions, outcomes) {
            switch outcome {
            case .imported(let record, let secret):
                imported += 1
                results[position].id = record.id
                results[position].start = record.start
                results[position].key = secret
            case .refused(.rejected(let keyError)):
                results[position].error = ImportView.ErrorView(code: keyError.code.rawValue, field: keyError.field, message: keyError.message)
            case .refused(.storage(let message)):
                throw APIError(.serviceUnavailable, code: "storage", message, kind: .storage)
            }
        }
        await service.waitForPush()
        metrics.adminWrites.increment(by: Int64(imported))
        context.logger.info("keys imported", metadata: ["imported": "\(imported)", "refused": "\(lines.count - imported)"])
        return try JSONBody.response(ImportView(imported: imported, refused: lines.count - imported, results: results))
    }

    private func notFound(_ id: String) -> APIError {
        APIError(.notFound, code: "not_found", "no key with id \(APIKeyFormat.redacted(id)); list keys with GET /v1/keys", kind: .notFound)
    }

    private func keyCall<Value>(_ body: () async throws(KeyServiceError) -> Value) async throws(APIError) -> Value {
        do {
            return try await body()
        } catch {
            switch error {
            case .rejected(let keyError):
                switch keyError.code {
                case .notFound:
                    throw APIError(.notFound, code: keyError.code.rawValue, keyError.message, kind: .notFound)
                case .revoked:
                    throw APIError(.conflict, code: keyError.code.rawValue, keyError.message, kind: .revoked)
                default:
                    throw APIError(.badRequest, code: keyError.code.rawValue, field: keyError.field, keyError.message, kind: .invalidField)
                }
            case .storage(let message):
                throw APIError(.serviceUnavailable, code: "storage", message, kind: .storage)
            }
        }
    }

    private func decodeOptional<Body: Decodable>(_ type: Body.Type, from request: Request) async throws -> Body? {
        let buffer: ByteBuffer
        do {
            buffer = try await request.body.collect(upTo: maxBodyBytes)
        } catch is NIOTooManyBytesError {
            throw APIError.bodyTooLarge(limit: maxBodyBytes)
        }
        guard buffer.readableBytes > 0 else { return nil }
        return try await JSONBody.decode(type, from: Request(head: request.head, body: .init(buffer: buffer)), limit: maxBodyBytes)
    }
}

extension HTTPField.Name {
    static let xForwardedFor = Self("X-Forwarded-For")!
    static let xRealIP = Self("X-Real-IP")!
    static let requestID = Self("X-Request-Id")!
}

/// Carries the caller's `X-Request-Id` (or a new one) into every log line, access line and
/// audit entry of the request, and back in every answer: the outermost middleware, so errors,
/// 404s and 405s (answers by then, see `APIVersionMiddleware`) carry it too.
struct RequestIDMiddleware: RouterMiddleware {
    typealias Context = GatehouseRequestContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        let id = RequestID.from(header: request.headers[.requestID])
        context.requestID = id
        context.logger[metadataKey: "request_id"] = "\(id)"
        var response = try await next(request, context)
        response.headers[.requestID] = id.value
        return response
    }
}

extension GatehouseRequestContext {
    /// Hands a verify's key, owner and code to the access line.
    func noteVerify(_ answer: VerifyAnswer) {
        let (keyID, owner, code) = (answer.keyID, answer.owner, answer.code.rawValue)
        accessNotes?.note { $0.keyID = keyID; $0.owner = owner; $0.code = code }
    }
}

/// Refuses a request whose `Content-Length` is over the limit before reading any of its
/// body; the connection guard then closes the connection if the client sends it anyway.
struct DeclaredBodyLimitMiddleware: RouterMiddleware {
    typealias Context = GatehouseRequestContext
    let maxBodyBytes: Int
    let maxImportBodyBytes: Int

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let limit = request.uri.path == HTTPAPI.importPath ? maxImportBodyBytes : maxBodyBytes
        if let declared = request.headers[.contentLength].flatMap({ Int($0) }), declared > limit {
            throw APIError.bodyTooLarge(limit: limit)
        }
        return try await next(request, context)
    }
}

/// The API's paths and the methods each answers, so that a known path asked with another
/// method gets 405 with `Allow` (RFC 9110 §15.5.6) instead of the router's 404.
///
/// Filled while the router is built, read afterwards (only on requests the router did not match).
final class RouteTable: Sendable {
    private struct Route: Sendable {
        /// The path's segments; `nil` for a parameter (`:id`), which matches any one segment.
        var segments: [String?]
        var methods: Set<HTTPRequest.Method>
    }

    private let routes = LockedBox<[Route]>([])

    init() {}

    func add(_ path: String, _ method: HTTPRequest.Method) {
        let segments: [String?] = path.split(separator: "/").map { $0.hasPrefix(":") ? nil : String($0) }
        routes.withLock { routes in
            if let index = routes.firstIndex(where: { $0.segments == segments }) {
                routes[index].methods.insert(method)
            } else {
                routes.append(Route(segments: segments, methods: [method]))
            }
        }
    }

    /// The `Allow` value for a known path (`HEAD` with every `GET`), or `nil` for an unknown one.
    /// Where a literal route and a parameter route both match (`/v1/keys/import` and
    /// `/v1/keys/:id`), the router takes the literal one, and so does this.
    func allowed(path: String) -> String? {
        let parts = path.split(separator: "/", omittingEmptySubsequences: true)
        let methods = routes.withLock { routes in
            let matching = routes.filter { route in
                route.segments.count == parts.count
                    && zip(route.segments, parts).allSatisfy { segment, part in segment.map { $0 == part } ?? true }
            }
            let mostLiteral = matching.map { $0.segments.compactMap { $0 }.count }.max()
            return matching.filter { $0.segments.compactMap { $0 }.count == mostLiteral }
                .reduce(into: Set<HTTPRequest.Method>()) { $0.formUnion($1.methods) }
        }
        guard !methods.isEmpty else { return nil }
        var names = methods.map(\.rawValue)
        if methods.contains(.get), !methods.contains(.head) { names.append("HEAD") }
        let order = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]
        return names.sorted { (order.firstIndex(of: $0) ?? order.count, $0) < (order.firstIndex(of: $1) ?? order.count, $1) }
            .joined(separator: ", ")
    }
}

/// Counts refused requests by reason, and turns routing and body-size errors into JSON errors.
struct ErrorMetricsMiddleware: RouterMiddleware {
    typealias Context = GatehouseRequestContext
    let metrics: NodeMetrics
    let routes: RouteTable

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as APIError {
            metrics.countHTTPError(error.kind)
            throw error
        } catch let error as HTTPError where error.status == .notFound {
            if let allow = routes.allowed(path: request.uri.path) {
                metrics.countHTTPError(.methodNotAllowed)
                var refusal = APIError(
                    .methodNotAllowed, code: "method_not_allowed",
                    "\(request.method.rawValue) is not supported here; this path answers \(allow) (see openapi.yaml)",
                    kind: .methodNotAllowed)
                refusal.extraHeaders[.allow] = allow
                throw refusal
            }
            metrics.countHTTPError(.notFound)
            throw APIError(.notFound, code: "not_found", "no such endpoint; see openapi.yaml", kind: .notFound)
        } catch is NIOTooManyBytesError {
            metrics.countHTTPError(.tooLarge)
            throw APIError.bodyTooLarge(limit: context.maxUploadSize)
        } catch {
            metrics.countHTTPError(.badRequest)
            throw error
        }
    }
}
