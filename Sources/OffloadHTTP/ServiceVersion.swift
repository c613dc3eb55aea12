/// The service's version: `offload-http --version`, `GET /version`, the `offload_build_info`
/// metric and the OpenAPI document's `info.version` all read it here. 2.0: keys became typed
/// and versioned (`GET /keys` changed shape), and job records moved to a store.
public enum ServiceVersion {
    public static let current = "2.0.0"
}
