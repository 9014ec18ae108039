import Foundation
import GatehouseCore
import NIOCore

/// What replicas say to each other about key records, inside sealed gossip payloads (one
/// record) and sealed TCP sync frames (anti-entropy). Bodies are JSON: records are small,
/// rare next to verifies, and their shape is the same `KeyRecord` Codable the store uses.
public enum ReplicationMessage: Sendable {
    /// Anti-entropy step 1: "here is my digest".
    case digestRequest(ReplicaDigest)
    /// "These buckets differ; here are my entries in them."
    case digestResponse(buckets: [Int], entries: [ReplicaEntry])
    /// Step 2: "records you lack or hold older; and send me these ids".
    case recordsRequest(records: [KeyRecord], want: [String])
    case recordsResponse(records: [KeyRecord])
    /// A restarted node asks for the counts peers hold for it.
    case countersRequest(node: String)
    case countersResponse(slots: [CounterSlot])

    enum FrameType: UInt8 {
        case digestRequest = 10, digestResponse = 11, recordsRequest = 12, recordsResponse = 13
        case countersRequest = 14, countersResponse = 15
    }

    /// Whether a decrypted sync frame carries a replication message (rather than a membership snapshot).
    public static func isReplicationFrame(_ bytes: some Collection<UInt8>) -> Bool {
        bytes.count >= 2 && bytes.first == GossipCodec.version && FrameType(rawValue: bytes[bytes.index(after: bytes.startIndex)]) != nil
    }

    struct DigestBody: Codable { var buckets: [UInt64] }
    struct DigestResponseBody: Codable { var buckets: [Int]; var entries: [ReplicaEntry] }
    struct RecordsBody: Codable { var records: [KeyRecord]; var want: [String] }
    struct CountersRequestBody: Codable { var node: String }
    struct CountersResponseBody: Codable { var slots: [CounterSlot] }

    public func encode() -> [UInt8] {
        let encoder = JSONEncoder()
        let type: FrameType
        let body: Data
        switch self {
        case .digestRequest(let digest):
            type = .digestRequest
            body = try! encoder.encode(DigestBody(buckets: digest.buckets))
        case .digestResponse(let buckets, let entries):
            type = .digestResponse
            body = try! encoder.encode(DigestResponseBody(buckets: buckets, entries: entries))
        case .recordsRequest(let records, let want):
            type = .recordsRequest
            body = try! encoder.encode(RecordsBody(records: records, want: want))
        case .recordsResponse(let records):
            type = .recordsResponse
            body = try! encoder.encode(RecordsBody(records: records, want: []))
        case .countersRequest(let node):
            type = .countersRequest
            body = try! encoder.encode(CountersRequestBody(node: node))
        case .countersResponse(let slots):
            type = .countersResponse
            body = try! encoder.encode(CountersResponseBody(slots: slots))
        }
        return [GossipCodec.version, type.rawValue] + Array(body)
    }

    public static func decode(_ bytes: [UInt8]) throws(GossipDecodeError) -> ReplicationMessage {
        guard bytes.count >= 2 else { throw GossipDecodeError(.truncated, "sync frame too short") }
        guard bytes[0] == GossipCodec.version else { throw GossipDecodeError(.unknownVersion, "protocol version \(bytes[0])") }
        guard let type = FrameType(rawValue: bytes[1]) else { throw GossipDecodeError(.unknownType, "sync frame type \(bytes[1])") }
        let body = Data(bytes[2...])
        let decoder = JSONDecoder()
        do {
            switch type {
            case .digestRequest:
                let digest = try decoder.decode(DigestBody.self, from: body)
                guard digest.buckets.count == ReplicaDigest.bucketCount else { throw GossipDecodeError(.invalidField, "digest size") }
                return .digestRequest(ReplicaDigest(buckets: digest.buckets))
            case .digestResponse:
                let response = try decoder.decode(DigestResponseBody.self, from: body)
                return .digestResponse(buckets: response.buckets, entries: response.entries)
            case .recordsRequest:
                let request = try decoder.decode(RecordsBody.self, from: body)
                return .recordsRequest(records: request.records, want: request.want)
            case .recordsResponse:
                return .recordsResponse(records: try decoder.decode(RecordsBody.self, from: body).records)
            case .countersRequest:
                return .countersRequest(node: try decoder.decode(CountersRequestBody.self, from: body).node)
            case .countersResponse:
                return .countersResponse(slots: try decoder.decode(CountersResponseBody.self, from: body).slots)
            }
        } catch let error as GossipDecodeError {
            throw error
        } catch {
            throw GossipDecodeError(.invalidField, "sync frame body is not valid")
        }
    }

    /// A replicated write as a gossip payload: `[1][JSON record]`.
    public static func recordPayload(_ record: KeyRecord) -> [UInt8] {
        [1] + Array(try! JSONEncoder().encode(record))
    }

    public static func decodeRecordPayload(_ bytes: [UInt8]) -> KeyRecord? {
        guard bytes.first == 1 else { return nil }
        return try? JSONDecoder().decode(KeyRecord.self, from: Data(bytes.dropFirst()))
    }
}
