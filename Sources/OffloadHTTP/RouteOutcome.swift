import Engine
import Foundation
import Store

/// What a request leads to: an answer now, jobs whose answer comes when they finish, or an
/// answer that comes later from another thread (a read or a change of the durable store):
/// `later` is given the function to call with it, once.
enum RouteOutcome {
    case respond(HTTPResponse)
    case runJob(JobRequest, respondAsync: Bool)
    case runBatch([Result<JobRequest, APIError>])
    case later(@Sendable (_ respond: @escaping @Sendable (HTTPResponse) -> Void) -> Void)
}
