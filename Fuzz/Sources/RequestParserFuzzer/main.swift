// A libFuzzer driver. The first input byte picks what the rest is fed to:
//   0: a raw body to POST /encrypt with a query string (`name=value&...` up to the first NUL)
//   1: a JSON body to POST /encrypt, /decrypt, /rewrap, /hmac, /sign or /verify (the next byte picks)
//   2: the query string of GET /jobs
// Any input must end in a job request or an APIError; a crash, a trap or a sanitizer report
// is a finding.
import Engine
import Glibc
@testable import OffloadHTTP

/// A key of every type, in memory, as a service without a store has them.
private let keys: KeyRing = {
    let ring = KeyRing(wrap: try! KeyWrap.random(), defaultName: "default", isEphemeral: true)
    for (name, type) in [("default", Algorithm.aes256GCM), ("chacha", .chacha20Poly1305), ("mac", .hmacSHA256),
                         ("ec", .ecdsaP256), ("ed", .ed25519)] {
        _ = try! ring.changeInMemory(.create(name: name, type: type, importing: nil), now: 0)
    }
    return ring
}()
private let operations: [JobOperation] = [.encrypt, .decrypt, .rewrap, .hmac, .sign, .verify]

/// Splits `a=b&c=d` the way a query string is split (no percent-decoding: the daemon did it).
private func queryPairs(_ bytes: ArraySlice<UInt8>) -> [(name: String, value: String)] {
    String(decoding: bytes, as: UTF8.self).split(separator: "&", omittingEmptySubsequences: true).map { pair in
        let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
        return (String(parts[0]), parts.count > 1 ? String(parts[1]) : "")
    }
}

/// One input; libFuzzer calls it millions of times.
private func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let input = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    guard let selector = input.first else { return 0 }
    let rest = input.dropFirst()
    switch selector % 3 {
    case 0:
        let split = rest.firstIndex(of: 0) ?? rest.endIndex
        let request = HTTPRequest(
            method: "POST", path: "/encrypt", query: queryPairs(rest[..<split]), contentType: "text/plain",
            body: Array(rest[split...].dropFirst()))
        _ = try? JobRequestParser(operation: .encrypt, keys: keys, maxBatchItems: 1000).parse(request)
    case 1:
        let operation = operations[Int(rest.first ?? 0) % operations.count]
        let request = HTTPRequest(
            method: "POST", path: "/encrypt", query: [], contentType: "application/json; charset=utf-8",
            body: Array(rest.dropFirst()))
        _ = try? JobRequestParser(operation: operation, keys: keys, maxBatchItems: 1000).parse(request)
    default:
        _ = try? Router.jobListQuery(queryPairs(rest))
    }
    return 0
}

/// libFuzzer's entry point when its own `main` is not linked (libclang_rt.fuzzer_no_main).
@_silgen_name("LLVMFuzzerRunDriver")
private func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<Int32>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32
) -> Int32

var argc = CommandLine.argc
var argv = CommandLine.unsafeArgv
exit(LLVMFuzzerRunDriver(&argc, &argv, { data, size in fuzz(data, size) }))
