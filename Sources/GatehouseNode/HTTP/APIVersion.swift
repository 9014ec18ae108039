import HTTPTypes

/// The version of the HTTP API this node speaks, announced on every HTTP answer.
///
/// It names the compatibility line of the `/v1` paths (see "Compatibility" in README.md): it
/// changes only with a new path prefix (`/v2`), never for additive changes, so a client can
/// log it, or refuse to run against a node whose major version it does not know.
public enum APIVersion {
    /// The header every HTTP answer carries, errors and 404s included.
    public static let headerName = "Gatehouse-API-Version"
    public static let current = "1"

    static let header = HTTPField.Name(headerName)!
}
