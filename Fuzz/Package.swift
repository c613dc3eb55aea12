// swift-tools-version:6.0
// A libFuzzer target for the request parsing code (JSON bodies, hex, base64, query values).
// It lives in a package of its own so that the main package never builds it: it needs the
// coverage instrumentation and libFuzzer's runtime that scripts/fuzz-parser passes.
import Foundation
import PackageDescription

/// SwiftPM names a path dependency after its folder, which is the checkout's name.
let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().lastPathComponent

let package = Package(
    name: "offload-http-fuzz",
    dependencies: [.package(path: "..")],
    targets: [
        .executableTarget(
            name: "RequestParserFuzzer",
            dependencies: [.product(name: "OffloadHTTP", package: root)]
        ),
    ],
    swiftLanguageModes: [.v6]
)
