/// `Authorization: Bearer <token>`, as every listener reads it (scheme in any case).
enum BearerToken {
    /// The token of a bearer `Authorization` value, or `nil` for another scheme.
    static func parse(_ header: String) -> String? {
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { return nil }
        return String(parts[1]).trimmingSpaces()
    }
}
