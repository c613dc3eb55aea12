import Foundation

/// The bearer tokens the service accepts, each naming its principal.
///
/// The token file holds either one token alone (its principal is `default`, an admin: with one
/// token there is no one else to hide jobs from), or one `name:token`, `name:token:admin` or
/// `name:token:metrics` a line, with blank lines and `#` comments ignored. Names and tokens are
/// unique.
public struct AccessTokens: Sendable {
    private let entries: [(principal: Principal, token: AuthToken)]

    /// The principals, in the file's order.
    public var principals: [Principal] { entries.map(\.principal) }

    public init(_ entries: [(principal: Principal, token: AuthToken)]) throws {
        guard !entries.isEmpty else { throw ServerError("The token list holds no token.") }
        var names = Set<String>()
        var tokens = Set<[UInt8]>()
        for entry in entries {
            guard entry.principal.name.wholeMatch(of: /[A-Za-z0-9._-]{1,64}/) != nil else {
                throw ServerError(
                    "Principal name '\(entry.principal.name)' may hold only letters, digits, '.', '_' and '-' (1 to 64).")
            }
            guard names.insert(entry.principal.name).inserted else {
                throw ServerError("Principal '\(entry.principal.name)' is named twice; each name once.")
            }
            guard tokens.insert(entry.token.bytes).inserted else {
                // Which principal the token stands for would be ambiguous. The token is not shown.
                throw ServerError("Principal '\(entry.principal.name)' has the same token as an earlier one.")
            }
        }
        self.entries = entries
    }

    /// One token for every client: the principal `default`, an admin.
    public static func single(_ token: String) throws -> AccessTokens {
        try AccessTokens([(Principal(name: "default", role: .admin), AuthToken(token))])
    }

    /// Reads the tokens from a file that only its owner can read.
    public static func load(file path: String) throws -> AccessTokens {
        let text = String(decoding: try SecretFile.read(path, what: "auth token file"), as: UTF8.self)
        return try parse(text, source: path)
    }

    /// The tokens in the token file's format; `source` names the file in errors.
    public static func parse(_ text: String, source: String) throws -> AccessTokens {
        let lines = text.split(whereSeparator: \.isNewline).enumerated()
            .map { (number: $0.offset + 1, text: $0.element.trimmingCharacters(in: .whitespaces)) }
            .filter { !$0.text.isEmpty && !$0.text.hasPrefix("#") }
        if lines.count == 1 && !lines[0].text.contains(":") {
            return try single(lines[0].text)
        }
        var entries: [(principal: Principal, token: AuthToken)] = []
        for line in lines {
            let fields = line.text.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
            let role = fields.count == 2 ? .user : fields.count == 3 ? Principal.Role(rawValue: fields[2]) : nil
            guard let role, role != .user || fields.count == 2 else {
                throw ServerError(
                    "Line \(line.number) of \(source) is not name:token, name:token:admin or name:token:metrics "
                        + "(a file of one token alone is also accepted).")
            }
            let token: AuthToken
            do {
                token = try AuthToken(fields[1])
            } catch let error as ServerError {
                throw ServerError("Line \(line.number) of \(source): \(error.description)")
            }
            entries.append((Principal(name: fields[0], role: role), token))
        }
        do {
            return try AccessTokens(entries)
        } catch let error as ServerError {
            throw ServerError("\(source): \(error.description)")
        }
    }

    /// The principal whose token `authorization` (an Authorization header) carries. Every token
    /// is compared, each in time independent of where it differs, so the time taken does not
    /// tell which token (or which prefix) was close.
    func principal(for authorization: String?) -> Principal? {
        var matched: Principal?
        for entry in entries where entry.token.accepts(authorization: authorization) {
            matched = entry.principal
        }
        return matched
    }
}
