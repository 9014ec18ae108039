/// The version reported by `HELLO`, `INFO`, `/healthz` and `gatehouse --version`.
public enum GatehouseVersion {
    public static let current = "0.1.0"
}
