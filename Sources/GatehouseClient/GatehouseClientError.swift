/// What went wrong talking to a Gatehouse node.
public enum GatehouseClientError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The connection closed before the reply arrived.
    case connectionClosed
    /// The server answered with a RESP error (`CODE message`).
    case server(String)
    /// The server's reply did not have the expected shape.
    case unexpectedReply(String)

    public var description: String {
        switch self {
        case .connectionClosed: "the connection to the Gatehouse node closed; check that it is running"
        case .server(let line): "the node refused: \(line)"
        case .unexpectedReply(let what): "unexpected reply: \(what)"
        }
    }
}
