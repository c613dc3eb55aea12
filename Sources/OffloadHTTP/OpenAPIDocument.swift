import Foundation

/// The OpenAPI 3.1 description of the whole API (`openapi.yaml` beside this file), served at
/// `GET /openapi.yaml` and embedded in the binary so that nothing needs to be installed beside
/// it. Its `info.version` is the service's version (`ServiceVersion`): one place to change it.
/// The tests validate the file as OpenAPI and check it against the routes.
enum OpenAPIDocument {
    static let bytes: [UInt8] = PackageResources.openapi_yaml

    /// `info.version`: the first `version:` line indented under the top-level `info:` block.
    static let infoVersion: String = {
        let lines = String(decoding: bytes, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
        guard let info = lines.firstIndex(of: "info:") else { preconditionFailure("openapi.yaml has no info block") }
        for line in lines[(info + 1)...] {
            guard line.hasPrefix(" ") else { break }
            let field = line.drop { $0 == " " }
            if field.hasPrefix("version:") {
                return field.dropFirst("version:".count).trimmingCharacters(in: .whitespaces)
            }
        }
        preconditionFailure("openapi.yaml's info block has no version")
    }()
}
