#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The operating system's CSPRNG, read `capacity` bytes at a time: each of
/// `SystemRandomNumberGenerator`'s values is one `getrandom` system call, and a new key takes
/// about eight of them (its secret and its id), ~6 % of a bulk import's CPU. Same source, same
/// quality: only fewer calls. Made per key (or per batch), never shared between threads.
struct BatchedSystemRandom: RandomNumberGenerator {
    private var words: [UInt64]
    private var position = 0

    init(capacity words: Int = 16) {
        self.words = [UInt64](repeating: 0, count: min(max(1, words), 32))
        position = self.words.count
    }

    mutating func next() -> UInt64 {
        if position == words.count { refill() }
        defer { position += 1 }
        return words[position]
    }

    /// `getentropy` (getrandom underneath, at most 256 bytes a call) fills the buffer in one
    /// call; it fails only without a kernel source, when the standard library's generator,
    /// which has its own fallbacks, takes over.
    private mutating func refill() {
        words.withUnsafeMutableBytes { buffer in
            if getentropy(buffer.baseAddress!, buffer.count) != 0 {
                var system = SystemRandomNumberGenerator()
                for index in 0..<buffer.count / 8 {
                    buffer.storeBytes(of: system.next(), toByteOffset: index * 8, as: UInt64.self)
                }
            }
        }
        position = 0
    }
}
