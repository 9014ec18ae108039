import Crypto

/// SHA-256 of a token's bytes: how admin tokens are kept and compared (only hashes are held).
public enum TokenDigest {
    public static func sha256(_ bytes: some Sequence<UInt8>) -> [UInt8] {
        Array(SHA256.hash(data: Array(bytes)))
    }
}
