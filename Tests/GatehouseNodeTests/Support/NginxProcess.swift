import Foundation
import Testing

/// A real nginx (Debian's package) in the foreground, on a config the test wrote into a
/// temporary directory, stopped by PID.
final class NginxProcess {
    let process: ChildProcess
    let directory: String

    /// nginx as installed by `apt-get install nginx` (scripts/test does), or on `PATH`.
    static var executable: String? {
        Subprocess.locate("nginx") ?? ["/usr/sbin/nginx", "/usr/local/sbin/nginx"].first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// Writes `config` as `nginx.conf` in `directory`, checks it with `nginx -t`, starts nginx
    /// and waits until `port` accepts connections.
    init(config: String, directory: String, port: Int) async throws {
        guard let executable = Self.executable else { throw TestNodeError.unexpected("nginx is not installed") }
        self.directory = directory
        let file = directory + "/nginx.conf"
        try config.write(toFile: file, atomically: true, encoding: .utf8)
        let arguments = ["-p", directory, "-c", file, "-e", directory + "/error.log"]
        let check = try await Subprocess.run(executable, arguments + ["-t"])
        guard check.status == 0 else { throw TestNodeError.unexpected("nginx -t refused the config: \(check.error)") }
        process = try ChildProcess(executable: executable, arguments: arguments + ["-g", "daemon off;"])
        let started = try await eventually("nginx listens on 127.0.0.1:\(port)", timeout: .seconds(60)) {
            FreePort.isListening(port: port) || !process.isRunning
        }
        guard started, process.isRunning else {
            stop()
            throw TestNodeError.unexpected("nginx did not start: \(errorLog)")
        }
    }

    /// What nginx logged, for failure messages.
    var errorLog: String {
        (try? String(contentsOfFile: directory + "/error.log", encoding: .utf8)) ?? ""
    }

    /// SIGTERM to the master (it stops its workers), SIGKILL if it has not exited in 20 s.
    func stop() {
        guard process.isRunning else { return }
        process.signal(SIGTERM)
        let watchdog = DispatchWorkItem { [process] in process.signal(SIGKILL) }
        DispatchQueue.global().asyncAfter(deadline: .now() + 20, execute: watchdog)
        process.waitUntilExit()
        watchdog.cancel()
    }
}

/// One HTTP exchange made with curl, status and headers as the client saw them.
struct CurlReply {
    var status: Int
    /// Header names lowercased.
    var headers: [String: String]
    var body: String

    static func fetch(_ url: String, method: String = "GET", headers: [String: String] = [:], body: String? = nil) async throws -> CurlReply {
        guard let curl = Subprocess.locate("curl") else { throw TestNodeError.unexpected("curl is missing (scripts/test installs it)") }
        var arguments = ["-sS", "-i", "--max-time", "30", "-X", method]
        for (name, value) in headers { arguments += ["-H", "\(name): \(value)"] }
        if let body { arguments += ["--data-binary", body] }
        let result = try await Subprocess.run(curl, arguments + [url], timeout: 60)
        guard result.status == 0 else { throw TestNodeError.unexpected("curl \(url) failed: \(result.error)") }
        return try parse(result.output)
    }

    private static func parse(_ output: String) throws -> CurlReply {
        guard let split = output.range(of: "\r\n\r\n") else { throw TestNodeError.unexpected("not an HTTP answer: \(output)") }
        var lines = output[..<split.lowerBound].components(separatedBy: "\r\n")
        let statusLine = lines.removeFirst().split(separator: " ")
        guard statusLine.count >= 2, let status = Int(statusLine[1]) else { throw TestNodeError.unexpected("no status in: \(output)") }
        var headers: [String: String] = [:]
        for line in lines {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        return CurlReply(status: status, headers: headers, body: String(output[split.upperBound...]))
    }
}
