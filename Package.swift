// swift-tools-version:6.0
import PackageDescription

// Release builds leave exclusive access to the compiler's static checks: the runtime's dynamic
// checks (an access recorded in a thread-local set on each access to a class's stored
// property) were 5% of a request's instructions. Debug builds, which the tests run, keep them.
let releaseWithoutDynamicExclusivity: [SwiftSetting] = [
    .unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release)),
]

// The release binary allocates through gperftools' tcmalloc (Debian's libtcmalloc-minimal4):
// a request's 30 allocations are made in a burst of requests and freed in the next, more than
// glibc's per-thread cache holds (7 per size), so glibc took its arena's slow paths for most of
// them (malloc and free were 11% of the server's CPU at zero latency). Debug builds, which the
// tests run (also under AddressSanitizer, which brings its own allocator), keep glibc's.
let releaseWithThreadCachingMalloc: [LinkerSetting] = [
    .unsafeFlags(["-Xlinker", "-l:libtcmalloc_minimal.so.4"], .when(configuration: .release)),
]

let package = Package(
    name: "offload-http",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "offload-http", targets: ["offload-http"]),
        .library(name: "OffloadHTTP", targets: ["OffloadHTTP"]),
        .library(name: "Engine", targets: ["Engine"]),
        // The simulated accelerator as a loadable OpenSSL provider module (`make provider`
        // installs it as .build/release/ossl-modules/offloadsim.so).
        .library(name: "offloadsim", type: .dynamic, targets: ["OffloadSimModule"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-collections", from: "1.1.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.0.0"),
    ],
    targets: [
        .systemLibrary(
            name: "CMicroHTTPD",
            pkgConfig: "libmicrohttpd",
            providers: [.apt(["libmicrohttpd-dev"])]
        ),
        .systemLibrary(
            name: "COpenSSL",
            pkgConfig: "openssl",
            providers: [.apt(["libssl-dev"])]
        ),
        .systemLibrary(name: "CLinux"),
        // The stores' C libraries: SQLite (embedded) and libpq (PostgreSQL), see Sources/Store.
        .systemLibrary(name: "CSQLite", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),
        .systemLibrary(name: "CPostgres", pkgConfig: "libpq", providers: [.apt(["libpq-dev"])]),
        // The simulated accelerator and its OpenSSL provider, in C: it runs on ASYNC fibres
        // inside any program that loads it (see Sources/OffloadSim/include/offloadsim.h).
        .target(
            name: "OffloadSim",
            linkerSettings: [.linkedLibrary("crypto"), .linkedLibrary("pthread")]
        ),
        .target(name: "OffloadSimModule", dependencies: ["OffloadSim"]),
        // The job body that runs on the fibre (see Sources/CCipherJob/include/cipher_job.h).
        .target(
            name: "CCipherJob",
            dependencies: ["OffloadSim"],
            linkerSettings: [.linkedLibrary("crypto")]
        ),
        .target(
            name: "Engine",
            dependencies: [
                "COpenSSL", "CLinux", "OffloadSim", "CCipherJob",
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "HeapModule", package: "swift-collections"),
            ],
            swiftSettings: releaseWithoutDynamicExclusivity
        ),
        // Job records that outlive a process and span replicas (SQLite or PostgreSQL).
        .target(
            name: "Store",
            dependencies: ["Engine", "CSQLite", "CPostgres", .product(name: "Logging", package: "swift-log")]
        ),
        .target(
            name: "OffloadHTTP",
            dependencies: [
                "Engine",
                "Store",
                "CMicroHTTPD",
                "CLinux",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            // The OpenAPI document and the live page, in the binary: it works offline and needs
            // no file beside it.
            resources: [
                .embedInCode("openapi.yaml"), .embedInCode("Page/index.html"), .embedInCode("Page/app.js"),
                .embedInCode("Page/style.css"),
            ],
            swiftSettings: releaseWithoutDynamicExclusivity
        ),
        .executableTarget(
            name: "offload-http",
            dependencies: [
                "OffloadHTTP",
                "Engine",
                .product(name: "Logging", package: "swift-log"),
            ],
            linkerSettings: releaseWithThreadCachingMalloc
        ),
        .executableTarget(
            name: "engine-bench",
            dependencies: ["Engine"],
            path: "bench/engine-bench"
        ),
        // Starting child processes for the tests (see its file for why not Foundation's Process).
        .target(name: "CTestSupport", path: "Tests/CTestSupport"),
        .target(name: "TestSupport", dependencies: ["CTestSupport"], path: "Tests/TestSupport"),
        .testTarget(name: "EngineTests", dependencies: ["Engine", "TestSupport"]),
        .testTarget(name: "OffloadHTTPTests", dependencies: ["OffloadHTTP", "Engine", "TestSupport"]),
        .testTarget(name: "StoreTests", dependencies: ["Store", "Engine", "TestSupport"]),
    ],
    swiftLanguageModes: [.v6]
)
