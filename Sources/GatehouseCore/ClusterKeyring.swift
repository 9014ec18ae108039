import Crypto
import Foundation

/// The keys that authenticate and encrypt every gossip datagram and sync frame
/// (AES-256-GCM). The first key seals; every key opens, so a new key can be rolled out
/// everywhere before it becomes primary, and an old one removed after.
///
/// The cluster name is authenticated data: a packet from another cluster that happens to
/// share a key still fails to open.
///
/// `@unchecked Sendable`: `SymmetricKey` is an immutable value that swift-crypto has not
/// marked `Sendable`; the ring never changes after init.
public struct ClusterKeyring: @unchecked Sendable {
    /// `[version 1][nonce 12][ciphertext][tag 16]`.
    public static let overhead = 1 + 12 + 16
    public static let version: UInt8 = 1
    public static let keyBytes = 32

    private let keys: [SymmetricKey]
    private let authenticatedData: [UInt8]

    /// Why a sealed message could not be opened. Deliberately coarse: the caller counts and
    /// drops, and says nothing back to the sender.
    public enum OpenError: Error, Hashable, Sendable {
        case truncated
        case unknownVersion
        /// No key on the ring opens it, or it was altered, or it belongs to another cluster.
        case notAuthentic
    }

    public struct InvalidKey: Error, Hashable, Sendable, CustomStringConvertible {
        public var index: Int
        public init(index: Int) { self.index = index }
        public var description: String {
            "gossip key \(index) is not 32 bytes of base64; generate one with `openssl rand -base64 32`"
        }
    }

    /// Keys as base64 of 32 bytes each; the first is the primary.
    public init(base64Keys: [String], clusterName: String) throws(InvalidKey) {
        var keys: [SymmetricKey] = []
        for (index, text) in base64Keys.enumerated() {
            guard let data = Data(base64Encoded: text.trimmingCharacters(in: .whitespaces)), data.count == Self.keyBytes else {
                throw InvalidKey(index: index)
            }
            keys.append(SymmetricKey(data: data))
        }
        guard !keys.isEmpty else { throw InvalidKey(index: 0) }
        self.keys = keys
        authenticatedData = Array(clusterName.utf8)
    }

    public var keyCount: Int { keys.count }

    /// Seals with the primary key and a nonce from `generator`.
    public func seal(_ plaintext: some DataProtocol, using generator: inout some RandomNumberGenerator) -> [UInt8] {
        var nonceBytes = [UInt8](repeating: 0, count: 12)
        for index in nonceBytes.indices { nonceBytes[index] = UInt8.random(in: 0...255, using: &generator) }
        let nonce = try! AES.GCM.Nonce(data: nonceBytes)
        let box = try! AES.GCM.seal(plaintext, using: keys[0], nonce: nonce, authenticating: authenticatedData + [Self.version])
        var out: [UInt8] = [Self.version]
        out.reserveCapacity(Self.overhead + box.ciphertext.count)
        out.append(contentsOf: nonceBytes)
        out.append(contentsOf: box.ciphertext)
        out.append(contentsOf: box.tag)
        return out
    }

    /// Opens with whichever key on the ring sealed it.
    public func open(_ sealed: some Collection<UInt8>) throws(OpenError) -> [UInt8] {
        let bytes = Array(sealed)
        guard bytes.count >= Self.overhead else { throw .truncated }
        guard bytes[0] == Self.version else { throw .unknownVersion }
        guard let nonce = try? AES.GCM.Nonce(data: bytes[1..<13]) else { throw .truncated }
        let ciphertext = bytes[13..<(bytes.count - 16)]
        let tag = bytes[(bytes.count - 16)...]
        guard let box = try? AES.GCM.SealedBox(nonce: nonce, ciphertext: ciphertext, tag: tag) else { throw .truncated }
        for key in keys {
            if let plaintext = try? AES.GCM.open(box, using: key, authenticating: authenticatedData + [Self.version]) {
                return Array(plaintext)
            }
        }
        throw .notAuthentic
    }
}
