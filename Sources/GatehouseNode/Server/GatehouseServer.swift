import GatehouseCore
import GatehouseMembership
import Hummingbird
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import UnixSignals

/// Where a running node listens (the real ports, also when the config asked for port 0).
public struct NodeEndpoints: Sendable, Hashable {
    public var rpc: HostPort
    public var http: HostPort
    /// The gossip address (UDP and TCP), for a clustered node.
    public var gossip: HostPort?
    /// The Envoy gRPC listener, when the node runs one.
    public var grpc: HostPort?

    public init(rpc: HostPort, http: HostPort, gossip: HostPort? = nil, grpc: HostPort? = nil) {
        self.rpc = rpc
        self.http = http
        self.gossip = gossip
        self.grpc = grpc
    }
}

/// One Gatehouse node: key state loaded from storage, the RESP and HTTP listeners and the
/// housekeeping, run as one `ServiceGroup` that shuts down gracefully on SIGINT/SIGTERM.
public final class GatehouseServer: Sendable {
    public let config: NodeConfig
    public let secrets: NodeSecrets
    public let service: KeyService
    public let metrics: NodeMetrics
    public let readiness = Readiness()
    /// The membership shell, when the config clusters this node.
    public let gossip: GossipService?
    /// The time a clustered node answers on (its wall clock, corrected when it is off the
    /// cluster's); `nil` when standalone.
    public let clock: ClusterClock?
    /// The listeners' TLS context, reloaded on SIGHUP; `nil` without TLS.
    public let tls: TLSContextProvider?
    private let logger: Logger
    private let group: any EventLoopGroup
    private let serviceGroup = LockedBox<ServiceGroup?>(nil)

    /// Loads secrets and keys. `storage` defaults to SQLite in the data directory (or memory
    /// when the config is not persistent); `now` defaults to the wall clock.
    public init(
        config: NodeConfig, logger: Logger, storage: (any KeyStorage)? = nil,
        now: @escaping @Sendable () -> Int64 = WallClock.nowMs,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) throws {
        try config.validate()
        self.config = config
        self.logger = logger
        self.group = group
        metrics = NodeMetrics()
        // Before anything is written to the data directory: TLS files that do not load stop
        // the start with the field to fix.
        tls = config.tls.isConfigured ? try TLSContextProvider(settings: config.tls, metrics: metrics.tls, logger: logger) : nil
        secrets = try NodeSecrets.resolve(for: config)
        let chosenStorage: any KeyStorage
        if let storage {
            chosenStorage = storage
        } else if config.persistent {
            chosenStorage = try SQLiteKeyStorage(directory: config.dataDirectory)
        } else {
            chosenStorage = InMemoryKeyStorage()
        }
        let started = ContinuousClock.now
        // A clustered node answers on the cluster's time when its own clock is off (`ClusterClock`).
        let answerTime: @Sendable () -> Int64
        if let cluster = config.cluster {
            let clusterClock = ClusterClock(wall: now, boundMs: cluster.maxClockSkewMs, registry: metrics.registry, logger: logger)
            clock = clusterClock
            answerTime = { clusterClock.nowMs() }
        } else {
            clock = nil
            answerTime = now
        }
        service = try KeyService(
            nodeID: config.nodeID, hasher: LookupHasher(pepper: secrets.pepper), settings: config.decision,
            defaultLimits: config.defaultLimits, defaultPrefix: config.defaultKeyPrefix, storage: chosenStorage,
            maxClockSkewMs: config.cluster?.maxClockSkewMs ?? ClusterConfig.defaultMaxClockSkewMs,
            auditRetentionMs: Int64(config.auditRetentionDays) * 86_400_000, now: answerTime, logger: logger,
            events: SecurityEventLog(node: config.nodeID, settings: config.events, metrics: metrics, logger: logger, now: answerTime))
        if let cluster = config.cluster {
            do {
                gossip = try GossipService(
                    nodeID: config.nodeID, config: cluster, clusterName: config.clusterName, metrics: metrics.cluster,
                    dataMetrics: metrics.dataPlane, logger: logger, group: group, now: now, clock: clock, events: service.events)
            } catch let error as ClusterKeyring.InvalidKey {
                throw ConfigError(field: "gossip_keys[\(error.index)]", problem: "is not 32 bytes of base64", fix: "generate keys with `openssl rand -base64 32`")
            }
        } else {
            gossip = nil
        }
        logger.info("keys loaded", metadata: ["keys": "\(service.keyCount)", "took": "\(ContinuousClock.now - started)"])
    }

    /// Runs the node until it is shut down; `onReady` gets the bound addresses once both
    /// listeners are up.
    public func run(handleSignals: Bool = true, onReady: @escaping @Sendable (NodeEndpoints) -> Void = { _ in }) async throws {
        let bound = LockedBox<(rpc: HostPort?, http: HostPort?, grpc: HostPort?, reported: Bool)>((nil, nil, nil, false))
        let readiness = readiness
        let wantsGRPC = config.grpcAddress != nil
        let report: @Sendable (HostPort?, HostPort?, HostPort?) -> Void = { rpc, http, grpc in
            let both = bound.withLock { state -> NodeEndpoints? in
                if let rpc { state.rpc = rpc }
                if let http { state.http = http }
                if let grpc { state.grpc = grpc }
                guard let rpc = state.rpc, let http = state.http, !state.reported else { return nil }
                if wantsGRPC && state.grpc == nil { return nil }
                var gossip: HostPort?
                if let service = self.gossip {
                    // A clustered node is ready only once it gossips too.
                    guard let address = service.boundAddress else { return nil }
                    gossip = HostPort(host: address.host, port: address.port)
                }
                state.reported = true
                return NodeEndpoints(rpc: rpc, http: http, gossip: gossip, grpc: state.grpc)
            }
            if let both {
                readiness.markReady()
                onReady(both)
            }
        }
        for warning in ExposureWarnings.of(config) {
            logger.warning("exposed without protection: \(warning)")
        }
        let authenticator = GatewayAuthenticator(gatewayTokens: config.gatewayTokens, adminToken: secrets.adminToken)
        let resp = RESPServer(
            address: config.rpcAddress, limits: config.respLimits, settings: config.connections,
            shared: RESPServerContext(
                service: service, metrics: metrics, authenticator: authenticator, logger: logger,
                accessLog: AccessLog(logger: logger, settings: config.accessLog),
                nodeID: config.nodeID,
                connections: ConnectionRegistry(caps: .init(
                    maxConnections: config.maxConnections, maxUnauthenticated: config.connections.maxUnauthenticated,
                    maxPerSource: config.connections.maxPerSource))),
            group: group, tls: config.tls.applies(to: .resp) ? tls : nil,
            onBound: { address in report(HostPort(address, fallback: self.config.rpcAddress), nil, nil) })
        let api = HTTPAPI(
            service: service, metrics: metrics, authenticator: authenticator, admins: AdminAuthenticator(credentials: secrets.adminCredentials),
            trustedProxies: config.trustedProxies, readiness: readiness,
            nodeID: config.nodeID, maxBodyBytes: config.maxBodyBytes, maxImportBodyBytes: config.maxImportBodyBytes, logger: logger,
            gossip: gossip, deprecations: config.deprecations,
            accessLog: config.accessLog.http == .off ? nil : AccessLog(logger: logger, settings: config.accessLog))
        let httpAddress = config.httpAddress
        let http = Application(
            router: api.router(),
            server: .guardedHTTP1(
                settings: config.connections, maxBodyBytes: config.maxBodyBytes, maxImportBodyBytes: config.maxImportBodyBytes, metrics: metrics,
                tls: config.tls.applies(to: .http) ? tls : nil),
            configuration: ApplicationConfiguration(address: .hostname(httpAddress.host, port: httpAddress.port)),
            onServerRunning: { channel in
                report(nil, channel.localAddress.map { HostPort($0, fallback: httpAddress) }, nil)
            },
            eventLoopGroupProvider: .shared(group),
            logger: logger)
        let flusher = UsageFlusher(service: service, intervalMs: config.usageFlushIntervalMs, metrics: metrics, logger: logger)
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = []
        if let gossip, let cluster = config.cluster {
            gossip.whenBound { report(nil, nil, nil) }
            services.append(.init(service: gossip))
            // Before replication in the list, so it stops after it and writes its last batch.
            services.append(.init(service: ReplicaPersistence(service: service, metrics: metrics.replication, logger: logger)))
            services.append(.init(service: ClusterReplication(
                keys: service, gossip: gossip, metrics: metrics.replication, logger: logger,
                counterIntervalMs: cluster.counterSyncIntervalMs, antiEntropyIntervalMs: cluster.antiEntropyIntervalMs,
                rule: cluster.counterSendRule,
                settings: ReplicationMachine.Settings(directLimit: cluster.counterDirectLimit, fanout: cluster.membership.gossipFanout))))
        }
        services += [
            .init(service: resp), .init(service: http), .init(service: flusher),
            .init(service: SecurityEventService(events: service.events, keys: service)),
        ]
        if let grpcAddress = config.grpcAddress {
            services.append(.init(service: envoyServer(address: grpcAddress, authenticator: authenticator) { report(nil, nil, $0) }))
        }
        if handleSignals, let tls {
            // Trapped before anything listens: a SIGHUP once the node is ready reloads, never kills.
            let signals = await UnixSignalsSequence(trapping: .sighup)
            services.append(.init(service: TLSReloadService(provider: tls, signals: signals), successTerminationBehavior: .ignore))
        }
        let group = ServiceGroup(configuration: ServiceGroupConfiguration(
            services: services,
            gracefulShutdownSignals: handleSignals ? [.sigterm, .sigint] : [],
            logger: logger))
        serviceGroup.withLock { $0 = group }
        try await group.run()
        logger.info("node stopped", metadata: ["node_id": "\(config.nodeID)"])
    }

    /// The Envoy gRPC listener with the rate-limit service and ext_authz.
    private func envoyServer(
        address: HostPort, authenticator: GatewayAuthenticator, onBound: @escaping @Sendable (HostPort) -> Void
    ) -> EnvoyGRPCServer {
        let envoy = config.envoy
        let trail = GRPCRequestTrail(
            log: AccessLog(logger: logger, settings: config.accessLog),
            sampler: SharedAccessLogSampler(config.accessLog.grpc, every: config.accessLog.sampleEvery))
        let rateLimit = EnvoyRateLimitService(
            decision: EnvoyRateLimitDecision(rules: envoy.rateLimitRules, apiKeyDescriptor: envoy.apiKeyDescriptor, responseHeaders: envoy.rateLimitHeaders),
            keys: service, metrics: metrics, trail: trail)
        let authorization = EnvoyAuthorizationService(
            decision: EnvoyAuthorizationDecision(settings: envoy.authorization, failedAttemptWindowMs: service.failedAttemptWindowMs),
            keys: service, metrics: metrics, trail: trail)
        return EnvoyGRPCServer(
            address: address, services: [rateLimit, authorization],
            interceptors: [GatewayTokenInterceptor(authenticator: authenticator, keys: service, metrics: metrics)],
            settings: config.connections, tls: config.tls.applies(to: .grpc) ? tls : nil, metrics: metrics,
            group: group as? MultiThreadedEventLoopGroup ?? .singleton, logger: logger, onBound: onBound)
    }

    /// Re-reads the TLS certificate, key and client CA files (what SIGHUP does); new
    /// connections get the new certificate, open ones keep theirs. `nil` without TLS.
    @discardableResult
    public func reloadTLS() -> Result<TLSCertificateSummary, ConfigError>? {
        tls?.reload()
    }

    /// Starts a graceful shutdown of a running node (what SIGTERM does).
    public func shutdown() async {
        await serviceGroup.withLock { $0 }?.triggerGracefulShutdown()
    }
}

extension HostPort {
    /// The host and real port of a bound socket.
    init(_ address: SocketAddress, fallback: HostPort) {
        self.init(host: address.ipAddress ?? fallback.host, port: address.port ?? fallback.port)
    }
}
