import GatehouseCore
import NIOCore
import Synchronization

/// The open connections of one listener, so shutdown can close them and the caps can be
/// enforced: all connections, those not yet authenticated (counted apart, with their own
/// smaller cap, so idle sockets cannot take gateways' slots), and those per source address.
final class ConnectionRegistry: Sendable {
    struct Caps: Sendable {
        /// Authenticated connections (all of them when no authentication is asked).
        var maxConnections: Int
        var maxUnauthenticated: Int
        var maxPerSource: Int
    }

    private struct Entry {
        var channel: any Channel
        var source: SourceIdentity?
        var authenticated: Bool
    }

    private struct Table {
        var entries: [ObjectIdentifier: Entry] = [:]
        var authenticated = 0
        var perSource: [SourceIdentity: Int] = [:]
    }

    private let caps: Caps
    private let table = LockedBox(Table())
    private let nextID = Atomic<Int>(0)

    init(caps: Caps) {
        self.caps = caps
    }

    var count: Int { table.withLock { $0.entries.count } }

    enum Admission: Equatable {
        case admitted(id: Int)
        /// The cap that refused the connection.
        case refused(ConnectionCloseReason)
    }

    /// Adds a channel unless a cap is reached.
    func admit(_ channel: any Channel, authenticated: Bool) -> Admission {
        let source = channel.remoteAddress?.ipAddress.map { SourceAddress.identity($0) }
        let refusal = table.withLock { table -> ConnectionCloseReason? in
            if authenticated {
                guard table.authenticated < caps.maxConnections else { return .listenerLimit }
            } else {
                guard table.entries.count - table.authenticated < caps.maxUnauthenticated else { return .unauthenticatedLimit }
            }
            if let source {
                let fromSource = table.perSource[source, default: 0]
                guard fromSource < caps.maxPerSource else { return .sourceLimit }
                table.perSource[source] = fromSource + 1
            }
            table.entries[ObjectIdentifier(channel)] = Entry(channel: channel, source: source, authenticated: authenticated)
            if authenticated { table.authenticated += 1 }
            return nil
        }
        if let refusal { return .refused(refusal) }
        channel.closeFuture.whenComplete { _ in self.remove(channel) }
        return .admitted(id: nextID.add(1, ordering: .relaxed).newValue)
    }

    /// Moves a connection that just authenticated under the listener's cap; `false` when
    /// that cap is full (the connection should then be told and closed).
    func authenticate(_ channel: any Channel) -> Bool {
        table.withLock { table in
            guard var entry = table.entries[ObjectIdentifier(channel)] else { return false }
            guard !entry.authenticated else { return true }
            guard table.authenticated < caps.maxConnections else { return false }
            entry.authenticated = true
            table.entries[ObjectIdentifier(channel)] = entry
            table.authenticated += 1
            return true
        }
    }

    private func remove(_ channel: any Channel) {
        table.withLock { table in
            guard let entry = table.entries.removeValue(forKey: ObjectIdentifier(channel)) else { return }
            if entry.authenticated { table.authenticated -= 1 }
            if let source = entry.source {
                let left = table.perSource[source, default: 1] - 1
                table.perSource[source] = left > 0 ? left : nil
            }
        }
    }

    func closeAll() {
        for channel in table.withLock({ $0.entries.values.map(\.channel) }) {
            channel.close(promise: nil)
        }
    }
}
