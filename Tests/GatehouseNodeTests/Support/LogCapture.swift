import GatehouseNode
import Logging

/// Collects the JSON lines a node logs, so tests can check what was (and was not) written.
final class LogCapture: Sendable {
    private let lines = LockedBox<[String]>([])

    func logger(level: Logger.Level) -> Logger {
        let lines = lines
        var logger = Logger(label: "gatehouse.test") { label in
            JSONLogHandler(label: label, level: level) { line in lines.withLock { $0.append(line) } }
        }
        logger.logLevel = level
        return logger
    }

    var all: [String] { lines.withLock { $0 } }

    var text: String { all.joined(separator: "\n") }
}
