import GatehouseCore

/// What travels on the data plane: one persistent, sealed TCP stream per peer, dialled by
/// the sender (each member writes to a peer over its own outbound stream and only reads on
/// the streams peers opened to it). Failure detection never carries any of these.
///
/// Every exchange is one-way messages, never a request waiting on its connection: an
/// anti-entropy round is `digest` → `digestReply` → `recordsAndWant` → `records`, each on
/// the sender's own stream, so a slow peer holds up only its own stream.
public enum DataMessage: Hashable, Sendable {
    /// The first frame of every stream: who is dialling. Sealed with the keyring like every
    /// frame, so a stream whose first frame opens is authenticated, and everything after it
    /// is attributed to `node`.
    case hello(node: NodeID)
    /// Key records: pushed writes, and the answer to `recordsAndWant`.
    case records([KeyRecord])
    /// Anti-entropy step 1: the sender's digest.
    case digest(ReplicaDigest)
    /// Step 2: the buckets that differ, and the answering member's entries in them.
    case digestReply(buckets: [Int], entries: [ReplicaEntry])
    /// Step 3: records the receiver lacks or holds older, and the ids the sender wants back.
    case recordsAndWant(records: [KeyRecord], want: [String])
    /// Counter slots counted by `origin` (the stream's own member, or one relayed in fan-out).
    case counters(origin: NodeID, slots: [CounterSlot])
    /// "Send me the slots you hold for me": a restarted member recovering its own counts.
    case countersRequest
    /// The answer: the receiver's own slots, as the sender of this message held them.
    case countersReply(slots: [CounterSlot])
    /// The sender's own escrow rows (what it spent, what it handed to whom): after a
    /// hand-over, as credits are spent, and when a stream comes up.
    case escrowRows([EscrowRow])
    /// "Hand me part of these": the sender runs low on shares or credits.
    case escrowWants([EscrowWant])
    /// The answer to `countersRequest` for escrow: the receiver's own rows, as the sender
    /// held them, so a restarted member does not forget what it handed over.
    case escrowRestore([EscrowRow])
    /// Audit entries: pushed as they are written (by their node), and sent by audit
    /// anti-entropy. A set that only grows: the receiver keeps the union.
    case auditEntries([AuditEntry])
    /// Audit anti-entropy: the sender's per-hour summary. The receiver answers with its
    /// entries in the hours that differ and, unless this is itself the answer (`reply`), its
    /// own summary, so the sender then sends what it holds there in turn.
    case auditDigest(AuditDigest, reply: Bool)
}
