import Foundation
import Testing

/// `deploy/prometheus/alerts.yml`: valid rules that fire when they should (`promtool test
/// rules` on `alerts.test.yml`), over metrics a real node exports.
@Suite("Prometheus alert rules", .timeLimit(.minutes(3)))
struct AlertRulesTests {
    static let rules = Subprocess.packageRoot.appendingPathComponent("deploy/prometheus/alerts.yml").path
    static let ruleTests = Subprocess.packageRoot.appendingPathComponent("deploy/prometheus/alerts.test.yml").path

    /// promtool, or nil: in CI (`CI=true`) a missing promtool is a failure (scripts/test
    /// installs Debian's prometheus package for it); elsewhere the test is skipped.
    static func promtool() -> String? {
        if let found = Subprocess.locate("promtool") { return found }
        if ProcessInfo.processInfo.environment["CI"] == "true" {
            Issue.record("promtool is missing: install Debian's prometheus package (scripts/test does: apt-get install prometheus)")
        }
        return nil
    }

    @Test func theRulesAreValidAndTheirUnitTestsPass() async throws {
        guard let promtool = Self.promtool() else { return }
        let check = try await Subprocess.run(promtool, ["check", "rules", Self.rules])
        #expect(check.status == 0, "promtool check rules: \(check.output) \(check.error)")
        let test = try await Subprocess.run(promtool, ["test", "rules", Self.ruleTests])
        #expect(test.status == 0, "promtool test rules: \(test.output) \(test.error)")
        #expect(test.output.contains("SUCCESS"))
    }

    /// Every series an alert reads is one a node exports (from the start, at 0), so no
    /// alert waits on a metric that does not exist.
    @Test func everyMetricTheAlertsUseIsOnALiveNodesMetrics() async throws {
        let text = try String(contentsOfFile: Self.rules, encoding: .utf8)
        let expressions = text.split(separator: "\n").compactMap { line -> String? in
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            return trimmed.hasPrefix("expr:") ? String(trimmed.dropFirst(5)) : nil
        }
        #expect(expressions.count >= 7)
        let node = try await TestNode.start()
        let metrics = try await node.http("GET", "/metrics", token: nil).text
        let exported = Set(metrics.split(separator: "\n").filter { !$0.hasPrefix("#") }.map { String($0.split(separator: " ").first ?? "") })
        let names = try Regex(#"gatehouse_[a-z_]+"#)
        let types = try Regex(#"type=~?"([^"]+)""#)
        for expression in expressions {
            for match in expression.matches(of: names) {
                let name = String(expression[match.range])
                var series: [String] = []
                if let typeMatch = expression.firstMatch(of: types), let values = typeMatch.output[1].substring {
                    series = values.split(separator: "|").map { "\(name){type=\"\($0)\"}" }
                } else {
                    series = [name]
                }
                for one in series {
                    #expect(exported.contains(one), "\(one) (used by an alert) is not in a node's /metrics")
                }
            }
        }
        try await node.stop()
    }
}
