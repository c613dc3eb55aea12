/// The service's version: `offload-http --version`, `GET /version` and the `offload_build_info`
/// metric read it here, and it is the OpenAPI document's `info.version` (openapi.yaml), so the
/// document and the binary cannot disagree. 2.0: keys became typed and versioned (`GET /keys`
/// changed shape), and job records moved to a store.
public enum ServiceVersion {
    public static let current = OpenAPIDocument.infoVersion
}
