import Foundation
@testable import GatehouseNode
import Testing
import Yams

/// `openapi.yaml` says what the node does about versions: the version header on every
/// response, and every deprecation of the product's table marked `deprecated: true`.
@Suite("openapi.yaml: versions and deprecations")
struct OpenAPIVersioningTests {
    static let specPath = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("openapi.yaml").path

    static func spec() throws -> [String: Any] {
        let text = try String(contentsOfFile: specPath, encoding: .utf8)
        return try #require(try Yams.load(yaml: text) as? [String: Any])
    }

    /// Each operation as (method, path, operation object).
    static func operations(_ spec: [String: Any]) -> [(String, String, [String: Any])] {
        let paths = spec["paths"] as? [String: [String: Any]] ?? [:]
        return paths.flatMap { path, item in
            item.compactMap { method, operation -> (String, String, [String: Any])? in
                guard let operation = operation as? [String: Any], method != "parameters" else { return nil }
                return (method.uppercased(), path, operation)
            }
        }
    }

    @Test func everyResponseDeclaresTheVersionHeader() throws {
        let spec = try Self.spec()
        let components = spec["components"] as? [String: Any] ?? [:]
        let header = try #require((components["headers"] as? [String: Any])?[APIVersion.headerName] as? [String: Any])
        #expect(header["required"] as? Bool == true)
        #expect((header["schema"] as? [String: Any])?["const"] as? String == APIVersion.current)
        let shared = components["responses"] as? [String: [String: Any]] ?? [:]
        let operations = Self.operations(spec)
        #expect(operations.count >= 13)
        for (method, path, operation) in operations {
            for (status, response) in operation["responses"] as? [String: [String: Any]] ?? [:] {
                let resolved = (response["$ref"] as? String).flatMap { shared[String($0.split(separator: "/").last ?? "")] } ?? response
                let headers = resolved["headers"] as? [String: Any] ?? [:]
                #expect(headers[APIVersion.headerName] != nil, "\(method) \(path) \(status)")
            }
        }
    }

    @Test func everyDeprecationOfTheProductIsMarkedInTheSpec() throws {
        let spec = try Self.spec()
        let operations = Self.operations(spec)
        for deprecation in DeprecationRegistry.product.entries {
            let name = "\(deprecation.method) \(deprecation.path)"
            let operation = try #require(
                operations.first { $0.0 == deprecation.method && $0.1 == deprecation.path }?.2, "\(name) is not in openapi.yaml")
            guard let field = deprecation.field else {
                #expect(operation["deprecated"] as? Bool == true, "\(name)")
                continue
            }
            #expect(Self.fieldIsDeprecated(field, in: operation, spec: spec), "\(name) field \(field)")
        }
    }

    @Test func theFieldCheckReadsParametersAndBodySchemas() throws {
        let spec = try Self.spec()
        let verify = try #require(Self.operations(spec).first { $0.0 == "POST" && $0.1 == "/v1/verify" }?.2)
        #expect(!Self.fieldIsDeprecated("request_id", in: verify, spec: spec), "nothing is deprecated yet")
        var marked = spec
        var components = spec["components"] as? [String: Any] ?? [:]
        var schemas = components["schemas"] as? [String: [String: Any]] ?? [:]
        var properties = schemas["VerifyRequest"]?["properties"] as? [String: [String: Any]] ?? [:]
        properties["request_id"]?["deprecated"] = true
        schemas["VerifyRequest"]?["properties"] = properties
        components["schemas"] = schemas
        marked["components"] = components
        #expect(Self.fieldIsDeprecated("request_id", in: verify, spec: marked))
        let query: [String: Any] = ["parameters": [["name": "mode", "in": "query", "deprecated": true]]]
        #expect(Self.fieldIsDeprecated("mode", in: query, spec: spec))
    }

    /// A query parameter of that name, or a property of the JSON body's schema, with
    /// `deprecated: true`.
    static func fieldIsDeprecated(_ field: String, in operation: [String: Any], spec: [String: Any]) -> Bool {
        let parameters = operation["parameters"] as? [[String: Any]] ?? []
        if parameters.contains(where: { $0["name"] as? String == field && $0["deprecated"] as? Bool == true }) { return true }
        let content = (operation["requestBody"] as? [String: Any])?["content"] as? [String: Any]
        let schema = (content?["application/json"] as? [String: Any])?["schema"] as? [String: Any] ?? [:]
        let schemas = (spec["components"] as? [String: Any])?["schemas"] as? [String: [String: Any]] ?? [:]
        let resolved = (schema["$ref"] as? String).flatMap { schemas[String($0.split(separator: "/").last ?? "")] } ?? schema
        let property = (resolved["properties"] as? [String: [String: Any]])?[field]
        return property?["deprecated"] as? Bool == true
    }
}
