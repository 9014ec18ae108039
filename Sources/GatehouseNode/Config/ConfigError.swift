/// A configuration that cannot start a node: names the field and says how to fix it.
public struct ConfigError: Error, Hashable, Sendable, CustomStringConvertible {
    /// Dotted path of the offending field, e.g. `nodes[1].rpc`.
    public var field: String
    public var problem: String
    public var fix: String

    public init(field: String, problem: String, fix: String) {
        self.field = field
        self.problem = problem
        self.fix = fix
    }

    public var description: String { "config error in \(field): \(problem). Fix: \(fix)" }
}
