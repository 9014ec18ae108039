import GatehouseCore
import GatehouseTestKit
import Testing

@Suite("Base62 and CRC32 primitives")
struct Base62AndCRC32Tests {
    @Test("CRC32 matches the IEEE check value and the empty input")
    func crcCheckValues() {
        #expect(CRC32.checksum(Array("123456789".utf8)) == 0xCBF4_3926)
        #expect(CRC32.checksum([UInt8]()) == 0)
        #expect(CRC32.checksum(Array("The quick brown fox jumps over the lazy dog".utf8)) == 0x414F_A339)
    }

    @Test("CRC32 eight bytes at a time equals the bit-by-bit definition at every length and alignment")
    func crcMatchesTheBitwiseDefinition() {
        func bitwise(_ bytes: ArraySlice<UInt8>) -> UInt32 {
            var crc: UInt32 = 0xFFFF_FFFF
            for byte in bytes {
                crc ^= UInt32(byte)
                for _ in 0..<8 { crc = (crc & 1) != 0 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
            }
            return crc ^ 0xFFFF_FFFF
        }
        var random = SeededGenerator(seed: 32)
        let bytes = (0..<80).map { _ in UInt8.random(in: 0...255, using: &random) }
        for start in 0..<8 {
            for end in start...bytes.count {
                #expect(CRC32.checksum(bytes[start..<end]) == bitwise(bytes[start..<end]), "bytes \(start)..<\(end)")
            }
        }
    }

    @Test("base62 digit values follow the alphabet order")
    func digitValues() {
        #expect(Base62.alphabet.count == 62)
        for (index, byte) in Base62.alphabet.enumerated() {
            #expect(Base62.value(of: byte) == UInt8(index))
        }
        for byte in UInt8.min...UInt8.max where !Base62.alphabet.contains(byte) {
            #expect(Base62.value(of: byte) == nil)
        }
    }

    @Test("fixed-width encoding round-trips through decode", arguments: [UInt64(0), 1, 61, 62, 3843, 0xFFFF_FFFF, 56_800_235_583])
    func fixedWidthRoundTrip(value: UInt64) {
        let digits = Base62.fixedWidth(value, width: 6)
        #expect(digits.count == 6)
        #expect(digits.withUnsafeBytes { Base62.decode($0) } == value)
    }

    @Test("fixed-width encoding is zero-padded, most significant digit first")
    func fixedWidthLayout() {
        #expect(String(decoding: Base62.fixedWidth(0, width: 6), as: UTF8.self) == "000000")
        #expect(String(decoding: Base62.fixedWidth(62, width: 6), as: UTF8.self) == "000010")
        #expect(String(decoding: Base62.fixedWidth(61, width: 3), as: UTF8.self) == "00z")
    }

    @Test("decode refuses non-digits and overflow")
    func decodeRefusals() {
        #expect(Array("12-4".utf8).withUnsafeBytes { Base62.decode($0) } == nil)
        #expect(Array(String(repeating: "z", count: 11).utf8).withUnsafeBytes { Base62.decode($0) } == nil)
        #expect(Array(String(repeating: "z", count: 10).utf8).withUnsafeBytes { Base62.decode($0) } != nil)
    }

    @Test("random digits are all from the alphabet, of the asked count, and cover it")
    func randomDigits() {
        var rng = SeededGenerator(seed: 99)
        var histogram = [Int](repeating: 0, count: 62)
        for _ in 0..<200 {
            let digits = Base62.random(count: 31, using: &rng)
            #expect(digits.count == 31)
            for digit in digits {
                guard let value = Base62.value(of: digit) else {
                    Issue.record("not a base62 digit: \(digit)")
                    continue
                }
                histogram[Int(value)] += 1
            }
        }
        // 6200 draws over 62 digits: every digit appears, none wildly over-represented.
        #expect(histogram.allSatisfy { $0 > 40 && $0 < 180 }, "\(histogram)")
    }
}
