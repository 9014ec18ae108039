import Foundation
import Testing
@testable import gatehouse

/// `gatehouse keys import` cuts its file into requests of whole lines, and knows the file
/// line each request starts at, so a refused line is reported by its number in the file.
@Suite("Import pieces")
struct ImportPiecesTests {
    private static func file(_ lines: [String]) -> Data { Data(lines.map { $0 + "\n" }.joined().utf8) }

    @Test func piecesHoldWholeLinesAndKnowWhereTheyStart() {
        let lines = (1...7).map { #"{"owner": "acct_\#($0)"}"# }
        let pieces = ImportPieces.split(Self.file(lines), maxLines: 3, maxBytes: 1_000)
        #expect(pieces.map(\.firstLine) == [1, 4, 7])
        #expect(pieces.map { String(decoding: $0.bytes, as: UTF8.self) }.joined() == lines.map { $0 + "\n" }.joined())
        #expect(pieces.allSatisfy { $0.oversizedLine == nil })
    }

    @Test func aPieceEndsBeforeItWouldPassTheByteLimit() {
        let line = String(repeating: "x", count: 99)  // 100 bytes with its newline
        let pieces = ImportPieces.split(Self.file(Array(repeating: line, count: 5)), maxLines: 100, maxBytes: 250)
        #expect(pieces.map(\.firstLine) == [1, 3, 5])
        #expect(pieces.map(\.bytes.count) == [200, 200, 100])
    }

    @Test func aLineOverTheByteLimitStopsTheSplitThere() {
        let lines = ["short", String(repeating: "y", count: 300), "after"]
        let pieces = ImportPieces.split(Self.file(lines), maxLines: 100, maxBytes: 250)
        #expect(pieces.count == 2)
        #expect(pieces[0].firstLine == 1 && pieces[0].oversizedLine == nil)
        #expect(pieces[1].oversizedLine == 2)
    }

    @Test func aLastLineWithoutANewlineIsKept() {
        let pieces = ImportPieces.split(Data("a\nb".utf8), maxLines: 10, maxBytes: 100)
        #expect(pieces.count == 1)
        #expect(String(decoding: pieces[0].bytes, as: UTF8.self) == "a\nb")
    }

    @Test func theLinesNotImportedAreNamedAsRanges() {
        let pieces = ImportPieces.split(Self.file((1...50).map { "line \($0)" }), maxLines: 10, maxBytes: 10_000)
        #expect(pieces.map(\.firstLine) == [1, 11, 21, 31, 41])
        func named(_ indices: [Int]) -> String { Keys.Import.notImported(indices, of: pieces) }
        #expect(named([1]).hasPrefix("lines 11–20 may not"))
        #expect(named([1, 2, 3, 4]).hasPrefix("lines 11 to the end may not"))
        #expect(named([0, 2, 3]).hasPrefix("lines 1–10, 21–40 may not"))
        #expect(named([1, 3, 4]).hasPrefix("lines 11–20, 31 to the end may not"))
    }
}
