import GatehouseCore

/// Where security events go (`events:` in cluster.yaml). Every node keeps the last
/// `ring_size` events for `GET /v1/events` and counts them in
/// `gatehouse_security_events_total` whatever the output; `output` adds a JSON line per event
/// on standard output or appended to `path` (off by default: the ring, the API and the
/// metric need no setup).
public struct EventSettings: Sendable, Equatable {
    public enum Output: String, Sendable, CaseIterable {
        case off, stdout, file
    }

    public var output: Output = .off
    /// The file `output: file` appends to; relative paths are relative to the config file.
    public var path: String?
    /// Events kept for `GET /v1/events`.
    public var ringSize = 10_000
    /// Aggregation (rate-limit refusals per key, bursts per source) and de-duplication window.
    public var windowMs: Int64 = 60_000
    /// Unknown or malformed keys from one source within a window that make a `key_guessing_burst`.
    public var burstThreshold: Int64 = 20

    public init() {}

    public var detector: SecurityEventDetector.Settings {
        var settings = SecurityEventDetector.Settings()
        settings.windowMs = windowMs
        settings.burstThreshold = burstThreshold
        return settings
    }

    func validate() throws(ConfigError) {
        if output == .file, (path ?? "").isEmpty {
            throw ConfigError(field: "events.path", problem: "is needed with output: file", fix: "e.g. path: ./gatehouse-data/events.jsonl")
        }
        guard (1...1_000_000).contains(ringSize) else {
            throw ConfigError(field: "events.ring_size", problem: "must be from 1 to 1000000", fix: "the default is 10000")
        }
        guard windowMs >= 100, windowMs <= 3_600_000 else {
            throw ConfigError(field: "events.window_ms", problem: "must be from 100 to 3600000", fix: "the default is 60000 (one minute)")
        }
        guard burstThreshold >= 1 else {
            throw ConfigError(field: "events.burst_threshold", problem: "must be 1 or more", fix: "the default is 20")
        }
    }
}
