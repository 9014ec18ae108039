import GatehouseCore
import GatehouseNode
import Testing

/// The rules file and the descriptor → limit mapping of the Envoy rate-limit service, with a
/// counter that records what it was asked.
@Suite("Envoy rate-limit rules and decisions")
struct EnvoyRateLimitDecisionTests {
    static let rulesYAML = """
        domain: edge
        descriptors:
          - key: remote_address
            rate_limit: {unit: minute, requests_per_unit: 3}
          - key: path
            value: /login
            rate_limit: {unit: second, requests_per_unit: 1}
          - key: path
            value: /static/*
            unlimited: true
          - key: path
            rate_limit: {unit: hour, requests_per_unit: 100, name: per_path}
          - key: tenant
            descriptors:
              - key: plan
                value: gold
                rate_limit: {unit: day, requests_per_unit: 10, name: gold}
                replaces: [{name: per_path}]
              - key: plan
                rate_limit: {unit: day, requests_per_unit: 2}
                shadow_mode: true
        ---
        domain: other
        descriptors:
          - key: user
            rate_limit: {unit: SECOND, requests_per_unit: 5}
            detailed_metric: true
        """

    /// Counts hits per bucket in one fixed window; records every call.
    final class Counter {
        var used: [String: Int64] = [:]
        var calls: [(bucket: String, limit: Int64, windowMs: Int64, cost: Int64)] = []

        func count(_ bucket: String, _ limit: Int64, _ windowMs: Int64, _ cost: Int64) -> ThrottleAnswer {
            calls.append((bucket, limit, windowMs, cost))
            let before = used[bucket, default: 0]
            let allowed = before + cost <= limit
            if allowed { used[bucket] = before + cost }
            let remaining = max(0, limit - used[bucket, default: 0])
            return ThrottleAnswer(SlidingWindow.Check(allowed: allowed, limit: limit, remaining: remaining, resetMs: 1_500, retryAfterMs: allowed ? 0 : 1_500))
        }
    }

    static func decision(responseHeaders: Bool = false) throws -> EnvoyRateLimitDecision {
        EnvoyRateLimitDecision(rules: try EnvoyRateLimitRulesFile.parse(yaml: rulesYAML, file: "rules.yaml"), responseHeaders: responseHeaders)
    }

    static func ask(
        _ decision: EnvoyRateLimitDecision, _ counter: Counter, domain: String = "edge", _ descriptors: [EnvoyRateLimitRequest.Descriptor],
        hits: UInt64 = 0, verify: (String, Int64) -> VerifyAnswer = { _, _ in VerifyAnswer(code: .notFound) }
    ) throws -> EnvoyRateLimitAnswer {
        try decision.evaluate(EnvoyRateLimitRequest(domain: domain, descriptors: descriptors, hitsAddend: hits), count: counter.count, verify: verify)
    }

    static func one(_ pairs: (String, String)...) -> EnvoyRateLimitRequest.Descriptor {
        .init(pairs.map { DescriptorEntry($0.0, $0.1) })
    }

    @Test func theMostSpecificRuleAtEachLevelApplies() throws {
        let rules = try EnvoyRateLimitRulesFile.parse(yaml: Self.rulesYAML, file: "rules.yaml")
        #expect(rules.rule(domain: "edge", entries: [DescriptorEntry("path", "/login")])?.limit?.requestsPerUnit == 1)
        #expect(rules.rule(domain: "edge", entries: [DescriptorEntry("path", "/static/app.js")])?.unlimited == true)
        #expect(rules.rule(domain: "edge", entries: [DescriptorEntry("path", "/orders")])?.limit?.name == "per_path")
        #expect(rules.rule(domain: "edge", entries: [DescriptorEntry("tenant", "t1"), DescriptorEntry("plan", "gold")])?.limit?.name == "gold")
        #expect(rules.rule(domain: "edge", entries: [DescriptorEntry("tenant", "t1"), DescriptorEntry("plan", "free")])?.shadowMode == true)
        // A rule without a limit at the end, a key nobody wrote, a descriptor going past a
        // leaf, and an unknown domain: not limited.
        #expect(rules.rule(domain: "edge", entries: [DescriptorEntry("tenant", "t1")]) == nil)
        #expect(rules.rule(domain: "edge", entries: [DescriptorEntry("country", "nl")]) == nil)
        #expect(rules.rule(domain: "edge", entries: [DescriptorEntry("path", "/login"), DescriptorEntry("method", "GET")]) == nil)
        #expect(rules.rule(domain: "nowhere", entries: [DescriptorEntry("path", "/login")]) == nil)
        #expect(rules.domains["other"]?.rules.first?.limit?.unit == .second)
    }

    @Test func eachValueOfAKeyOnlyRuleHasItsOwnCounterAndTheLimitRefusesPastIt() throws {
        let decision = try Self.decision()
        let counter = Counter()
        for expectedRemaining: UInt32 in [2, 1, 0] {
            let answer = try Self.ask(decision, counter, [Self.one(("remote_address", "10.0.0.1"))])
            #expect(answer.overallCode == .ok)
            #expect(answer.statuses == [.init(
                code: .ok, currentLimit: .init(requestsPerUnit: 3, unit: .minute, name: nil, windowMs: 60_000),
                limitRemaining: expectedRemaining, durationUntilResetMs: 1_500)])
        }
        let refused = try Self.ask(decision, counter, [Self.one(("remote_address", "10.0.0.1"))])
        #expect(refused.overallCode == .overLimit)
        #expect(refused.statuses[0].code == .overLimit && refused.statuses[0].limitRemaining == 0)
        // Another address is counted apart, in a minute window.
        #expect(try Self.ask(decision, counter, [Self.one(("remote_address", "10.0.0.2"))]).overallCode == .ok)
        #expect(Set(counter.calls.map(\.bucket)).count == 2)
        #expect(counter.calls.allSatisfy { $0.windowMs == 60_000 && $0.limit == 3 })
    }

    @Test func shadowModeCountsButNeverRefusesAndUnlimitedIsNotCounted() throws {
        let decision = try Self.decision()
        let counter = Counter()
        for _ in 0..<4 {
            let answer = try Self.ask(decision, counter, [Self.one(("tenant", "t9"), ("plan", "free"))])
            #expect(answer.overallCode == .ok)
        }
        #expect(counter.calls.count == 4)
        #expect(counter.used.values.first == 2)
        let statics = try Self.ask(decision, counter, [Self.one(("path", "/static/logo.png"))])
        #expect(statics.statuses == [.init(code: .ok, currentLimit: nil, limitRemaining: 0, durationUntilResetMs: 0)])
        #expect(counter.calls.count == 4)
    }

    @Test func hitsAddendOfTheRequestAndOfADescriptor() throws {
        let decision = try Self.decision()
        let counter = Counter()
        // The request's hits_addend counts 2 a request against a limit of 3.
        #expect(try Self.ask(decision, counter, [Self.one(("remote_address", "a"))], hits: 2).overallCode == .ok)
        #expect(try Self.ask(decision, counter, [Self.one(("remote_address", "a"))], hits: 2).overallCode == .overLimit)
        // A descriptor's own hits_addend wins; 0 checks without counting.
        let check = EnvoyRateLimitRequest.Descriptor([DescriptorEntry("remote_address", "a")], hitsAddend: 0)
        #expect(try Self.ask(decision, counter, [check], hits: 50).overallCode == .ok)
        let one = EnvoyRateLimitRequest.Descriptor([DescriptorEntry("remote_address", "a")], hitsAddend: 1)
        #expect(try Self.ask(decision, counter, [one], hits: 50).overallCode == .ok)
        #expect(counter.calls.map(\.cost) == [2, 2, 0, 1])
        #expect(counter.used.values.first == 3)
    }

    @Test func aLimitThatReplacesAnotherStopsItFromBeingCountedOrReported() throws {
        let decision = try Self.decision()
        let counter = Counter()
        let answer = try Self.ask(decision, counter, [Self.one(("path", "/orders")), Self.one(("tenant", "t1"), ("plan", "gold"))])
        #expect(answer.statuses.count == 2)
        #expect(answer.statuses[0] == .init(code: .ok, currentLimit: nil, limitRemaining: 0, durationUntilResetMs: 0))
        #expect(answer.statuses[1].currentLimit?.name == "gold")
        #expect(counter.calls.count == 1)
        // Without the replacing descriptor the path's own limit counts.
        _ = try Self.ask(decision, counter, [Self.one(("path", "/orders"))])
        #expect(counter.calls.last?.limit == 100)
    }

    @Test func anAPIKeyDescriptorIsVerifiedAgainstTheKeysOwnLimits() throws {
        let decision = try Self.decision()
        let counter = Counter()
        var asked: [(String, Int64)] = []
        var valid = VerifyAnswer(code: .valid)
        valid.keyID = "key_1"
        valid.limit = 10
        valid.remaining = 7
        valid.resetMs = 2_000
        let ok = try Self.ask(decision, counter, [Self.one(("gatehouse_api_key", "gk_secret"))], hits: 3) { key, cost in
            asked.append((key, cost))
            return valid
        }
        #expect(asked.count == 1 && asked[0].0 == "gk_secret" && asked[0].1 == 3)
        #expect(ok.overallCode == .ok)
        #expect(ok.statuses[0].currentLimit == .init(requestsPerUnit: 10, unit: nil, name: "key_1", windowMs: nil))
        #expect(ok.statuses[0].limitRemaining == 7 && ok.statuses[0].durationUntilResetMs == 2_000)
        #expect(counter.calls.isEmpty)
        var limited = valid
        limited.code = .rateLimited
        limited.remaining = 0
        let refused = try Self.ask(decision, counter, [Self.one(("gatehouse_api_key", "gk_secret"))]) { _, _ in limited }
        #expect(refused.overallCode == .overLimit)
        #expect(refused.responseHeaders.contains { $0.name == "x-gatehouse-code" && $0.value == "RATE_LIMITED" })
        // An unknown key fails closed, and says why.
        let unknown = try Self.ask(decision, counter, [Self.one(("gatehouse_api_key", "nonsense"))])
        #expect(unknown.overallCode == .overLimit)
        #expect(unknown.responseHeaders.map(\.value) == ["NOT_FOUND"])
    }

    @Test func rateLimitHeadersDescribeTheDescriptorWithTheLeastLeft() throws {
        let decision = try Self.decision(responseHeaders: true)
        let counter = Counter()
        let answer = try Self.ask(decision, counter, [Self.one(("path", "/orders")), Self.one(("remote_address", "b"))])
        #expect(answer.responseHeaders.map { "\($0.name): \($0.value)" } == [
            "x-ratelimit-limit: 3, 3;w=60", "x-ratelimit-remaining: 2", "x-ratelimit-reset: 2",
        ])
        let quiet = try Self.ask(try Self.decision(), counter, [Self.one(("path", "/orders"))])
        #expect(quiet.responseHeaders.isEmpty)
    }

    @Test func requestsItCannotEvaluateAreRefusedWithAReason() throws {
        let decision = try Self.decision()
        let counter = Counter()
        #expect(throws: EnvoyRateLimitRequestError.self) { try Self.ask(decision, counter, domain: "", [Self.one(("a", "b"))]) }
        #expect(throws: EnvoyRateLimitRequestError.self) { try Self.ask(decision, counter, []) }
        #expect(throws: EnvoyRateLimitRequestError.self) { try Self.ask(decision, counter, [.init([])]) }
        let long = String(repeating: "x", count: 2_000)
        #expect(throws: EnvoyRateLimitRequestError.self) { try Self.ask(decision, counter, [Self.one(("remote_address", long))]) }
        let many = Array(repeating: Self.one(("remote_address", "c")), count: EnvoyRateLimitDecision.maxDescriptors + 1)
        #expect(throws: EnvoyRateLimitRequestError.self) { try Self.ask(decision, counter, many) }
        #expect(counter.calls.isEmpty)
    }

    @Test func rulesFileMistakesNameTheField() {
        func problem(_ yaml: String) -> String? {
            do {
                _ = try EnvoyRateLimitRulesFile.parse(yaml: yaml, file: "rules.yaml")
                return nil
            } catch {
                return error.field
            }
        }
        #expect(problem("domain: d\ndescriptors:\n  - key: k\n    rate_limits: {unit: second, requests_per_unit: 1}") == "rules.yaml.descriptors[0].rate_limits")
        #expect(problem("domain: d\ndescriptors:\n  - key: k\n    rate_limit: {unit: fortnight, requests_per_unit: 1}") == "rules.yaml.descriptors[0].rate_limit.unit")
        #expect(problem("domain: d\ndescriptors:\n  - key: k\n    rate_limit: {unit: second, requests_per_unit: -1}") == "rules.yaml.descriptors[0].rate_limit.requests_per_unit")
        #expect(problem("descriptors: []") == "rules.yaml.domain")
        #expect(problem("domain: d\n---\ndomain: d") == "rules.yaml[document 2].domain")
        #expect(problem("domain: d\ndescriptors:\n  - key: k\n    unlimited: true\n    rate_limit: {unit: second, requests_per_unit: 1}") == "rules.yaml.descriptors[0].unlimited")
        #expect(problem("domain: [") == "rules.yaml")
        #expect(problem(Self.rulesYAML) == nil)
    }
}
