import Foundation

/// Readable output of key records for `gatehouse keys`.
enum KeyTable {
    static let columns = ["id", "start", "name", "owner", "scopes", "limits", "credits", "state", "expires_at"]

    static func row(_ key: [String: Any]) -> [String] {
        let scopes = (key["scopes"] as? [String] ?? []).joined(separator: ",")
        let limits = (key["limits"] as? [[String: Any]] ?? []).map { limit in
            "\(limit["name"] ?? "")=\(limit["limit"] ?? "")/\(limit["window_ms"] ?? "")ms"
        }.joined(separator: ",")
        let state: String
        if key["revoked_at"] is String {
            state = "revoked"
        } else if key["enabled"] as? Bool == false {
            state = "disabled"
        } else {
            state = "active"
        }
        return [
            text(key["id"]), text(key["start"]) + "…", text(key["name"]), text(key["owner"]), scopes, limits,
            text(key["credits"]), state, text(key["expires_at"]),
        ]
    }

    static func text(_ value: Any?) -> String {
        switch value {
        case let string as String: string
        case let number as Int: String(number)
        case let number as Int64: String(number)
        case let flag as Bool: String(flag)
        case nil, is NSNull: "-"
        default: value.map { "\($0)" } ?? "-"
        }
    }

    static func render(_ rows: [[String]], header: [String] = columns) -> String {
        let all = [header] + rows
        let widths = header.indices.map { column in all.map { $0[column].count }.max() ?? 0 }
        return all.map { row in
            row.enumerated().map { index, cell in cell.padding(toLength: widths[index], withPad: " ", startingAt: 0) }
                .joined(separator: "  ")
        }.joined(separator: "\n")
    }

    static func print(keys: [[String: Any]]) {
        Swift.print(render(keys.map(row)))
    }

    /// One key, field by field.
    static func print(key: [String: Any]) {
        let order = ["id", "key", "start", "name", "owner", "scopes", "limits", "credits", "meta", "enabled", "created_at", "expires_at", "revoked_at", "last_used_at", "retired_secrets", "version"]
        for field in order where key[field] != nil {
            let value: String
            switch key[field] {
            case let list as [Any]: value = list.map { "\($0)" }.joined(separator: ", ")
            default: value = text(key[field])
            }
            Swift.print("\(field.padding(toLength: 16, withPad: " ", startingAt: 0)) \(value)")
        }
    }
}
