import ArgumentParser
import Foundation
import GatehouseNode

extension Keys {
    /// `gatehouse keys import FILE`: bulk import from NDJSON, sent in pieces.
    struct Import: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Import keys from an NDJSON file, one key per line.",
            discussion: """
                Each line is a JSON object with the fields of `keys create` (name, owner, scopes, limits, \
                expires_at, credits, refill, meta, enabled, prefix) and at most one of:
                  "key": "<the key string>"      a key issued elsewhere, kept as it is
                  "sha256": "<64 hex digits>"    only the SHA-256 another system kept (optional "start")
                Neither: a new key; its secret is printed once (line, id, key, tab-separated).
                Refused lines are reported on stderr with their line number; the others are imported.
                """)
        @OptionGroup var connection: AdminConnection
        @Argument(help: "The NDJSON file; - reads standard input.")
        var file: String
        @Option(help: "Most lines per request (at most 10000).")
        var batch = 5_000
        @Option(help: "Most bytes per request (the node's limits.max_import_body_bytes, 8 MiB by default, must hold it).")
        var batchBytes = 4 * 1024 * 1024
        @Option(help: "Requests in flight at once, each on its own connection (1 to 8; http:// only).")
        var parallel = 2

        /// The node's answer to one request, read into its types: the untyped
        /// `JSONSerialization` tree and its casts were a third of the CLI's CPU.
        typealias Answer = ImportView
        typealias LineResult = ImportView.LineResult

        private static func answer(_ data: Data) throws -> Answer {
            do {
                return try JSONDecoder().decode(Answer.self, from: data)
            } catch {
                throw CLIError("the node's answer to an import is not what this CLI reads; is the node a different version?")
            }
        }

        /// Where to resume: the line ranges of `pieces` at `indices` (not imported, or their
        /// answer never came), for a person to check and send again.
        static func notImported(_ indices: [Int], of pieces: [ImportPieces.Piece]) -> String {
            var ranges: [(first: Int, last: Int?)] = []
            for index in indices {
                let last = index + 1 < pieces.count ? pieces[index + 1].firstLine - 1 : nil
                if let previous = ranges.last, previous.last.map({ $0 + 1 }) == pieces[index].firstLine {
                    ranges[ranges.count - 1].last = last
                } else {
                    ranges.append((pieces[index].firstLine, last))
                }
            }
            let named = ranges.map { range in range.last.map { "\(range.first)–\($0)" } ?? "\(range.first) to the end" }
            return "lines \(named.joined(separator: ", ")) may not have been imported: check which of their keys exist, then send those lines again"
        }

        private static let blank: Set<UInt8> = [UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\r"), UInt8(ascii: "\n")]

        func validate() throws {
            guard (1...10_000).contains(batch) else { throw ValidationError("--batch must be from 1 to 10000") }
            guard batchBytes >= 1024 else { throw ValidationError("--batch-bytes must be at least 1024") }
            guard (1...8).contains(parallel) else { throw ValidationError("--parallel must be from 1 to 8") }
        }

        func run() async throws {
            let data: Data
            if file == "-" {
                data = FileHandle.standardInput.readDataToEndOfFile()
            } else {
                guard let contents = FileManager.default.contents(atPath: file) else { throw CLIError("cannot read \(file)") }
                data = contents
            }
            let started = Date()
            var imported = 0
            var refused: [LineResult] = []
            var results: [LineResult] = []
            var pieces = ImportPieces.split(data, maxLines: batch, maxBytes: batchBytes)
            let cutShort = pieces.last?.oversizedLine != nil
            if let oversized = pieces.last?.oversizedLine {
                FileHandle.standardError.write(Data(
                    "line \(oversized) is over --batch-bytes (\(batchBytes)): nothing from it on is sent\n".utf8))
                pieces.removeLast()
            }
            pieces.removeAll { piece in !piece.bytes.contains(where: { !Self.blank.contains($0) }) }
            /// Counts a piece's answer and prints its new secrets (line, id, key), in one write.
            func take(_ answer: Answer, of piece: ImportPieces.Piece) {
                imported += answer.imported
                var printed = ""
                for var result in answer.results {
                    result.line += piece.firstLine - 1
                    if result.error != nil { refused.append(result) }
                    if connection.json {
                        results.append(result)
                    } else if let secret = result.key, let id = result.id {
                        printed += "\(result.line)\t\(id)\t\(secret)\n"
                    }
                }
                if !printed.isEmpty { FileHandle.standardOutput.write(Data(printed.utf8)) }
            }
            if let endpoint = URL(string: connection.url), endpoint.scheme == "http", let host = endpoint.host {
                let outcome = await ImportUpload.post(
                    bodies: pieces.map(\.bytes), host: host, port: endpoint.port ?? 80, path: endpoint.path + "/v1/keys/import",
                    token: try connection.token(), connections: parallel
                ) { index, answer in
                    take(try Self.answer(AdminConnection.checked(status: answer.status, answer.body)), of: pieces[index])
                }
                if let error = outcome.firstError {
                    throw CLIError("\(error); \(imported) keys were imported; \(Self.notImported(outcome.unanswered, of: pieces))")
                }
            } else {
                var next = 0
                do {
                    for piece in pieces {
                        take(try Self.answer(await connection.send(
                            "POST", "/v1/keys/import", body: piece.bytes, contentType: "application/x-ndjson")), of: piece)
                        next += 1
                    }
                } catch {
                    throw CLIError("\(error); \(imported) keys were imported; \(Self.notImported(Array(next..<pieces.count), of: pieces))")
                }
            }
            let seconds = max(Date().timeIntervalSince(started), 0.001)
            if connection.json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
                let text = try encoder.encode(ImportView(imported: imported, refused: refused.count, results: results))
                print(String(decoding: text, as: UTF8.self))
            } else {
                for result in refused {
                    let error = result.error
                    let field = error?.field.map { " (\($0))" } ?? ""
                    FileHandle.standardError.write(Data(
                        "line \(result.line): \(error?.code ?? "")\(field): \(error?.message ?? "")\n".utf8))
                }
            }
            FileHandle.standardError.write(Data(
                "imported \(imported), refused \(refused.count), in \(String(format: "%.2f", seconds)) s (\(Int(Double(imported) / seconds)) keys/s)\n".utf8))
            if !refused.isEmpty || cutShort { throw ExitCode(1) }
        }
    }
}

/// An NDJSON file cut into request bodies of whole lines, each at most `maxLines` lines
/// and `maxBytes` bytes, with the file line number each starts at.
enum ImportPieces {
    struct Piece {
        var firstLine: Int
        var bytes: Data
        /// A line too long for any piece: nothing from it on can be sent.
        var oversizedLine: Int?
    }

    /// Lines are found in the raw bytes and each piece copied once: walking `Data` by index
    /// and appending line by line cost a quarter of the CLI's CPU on a million-line file.
    static func split(_ data: Data, maxLines: Int, maxBytes: Int) -> [Piece] {
        data.withUnsafeBytes { bytes in
            var pieces: [Piece] = []
            var pieceStart = 0
            var pieceLines = 0
            var firstLine = 1
            var lineNumber = 0
            var start = 0
            while start < bytes.count {
                var end = start
                while end < bytes.count, bytes[end] != UInt8(ascii: "\n") { end += 1 }
                if end < bytes.count { end += 1 }
                lineNumber += 1
                if end - start > maxBytes {
                    if pieceLines > 0 { pieces.append(Piece(firstLine: firstLine, bytes: Data(bytes[pieceStart..<start]))) }
                    pieces.append(Piece(firstLine: lineNumber, bytes: Data(), oversizedLine: lineNumber))
                    return pieces
                }
                if pieceLines == maxLines || end - pieceStart > maxBytes {
                    pieces.append(Piece(firstLine: firstLine, bytes: Data(bytes[pieceStart..<start])))
                    pieceStart = start
                    pieceLines = 0
                    firstLine = lineNumber
                }
                pieceLines += 1
                start = end
            }
            if pieceLines > 0 { pieces.append(Piece(firstLine: firstLine, bytes: Data(bytes[pieceStart..<start]))) }
            return pieces
        }
    }
}
