import Engine
import Foundation

/// What a request leads to: an answer now, or a job whose answer comes when it finishes.
enum RouteOutcome {
    case respond(HTTPResponse)
    case runJob(JobRequest)
}

/// The API's routes (API.md), independent of libmicrohttpd.
struct Router: Sendable {
    let store: JobStore

    private enum Route {
        case encrypt
        case jobs
        case job(String)

        init?(path: String) {
            switch path {
            case "/encrypt": self = .encrypt
            case "/jobs": self = .jobs
            default:
                let prefix = "/jobs/"
                guard path.hasPrefix(prefix), path.count > prefix.count else { return nil }
                let id = String(path.dropFirst(prefix.count))
                guard !id.contains("/") else { return nil }
                self = .job(id)
            }
        }

        var methods: [String] {
            switch self {
            case .encrypt: ["POST"]
            case .jobs, .job: ["GET", "HEAD"]
            }
        }
    }

    func route(_ request: HTTPRequest) -> RouteOutcome {
        do throws(APIError) {
            guard let route = Route(path: request.path) else {
                throw .notFound("No route \(request.path); see the API for the routes.")
            }
            guard route.methods.contains(request.method) else {
                throw .methodNotAllowed(request.method, allowed: route.methods)
            }
            switch route {
            case .encrypt:
                return .runJob(try JobRequestParser.parse(request))
            case .jobs:
                return .respond(try listJobs(request.query))
            case .job(let id):
                return .respond(try job(id))
            }
        } catch {
            return .respond(error.response)
        }
    }

    /// The answer to a job's request once the job has finished.
    static func response(for record: JobRecord) -> HTTPResponse {
        switch (record.status, record.error?.code) {
        case (.completed, _): .json(200, JobJSON.job(record))
        case (_, "device_error"): .json(502, JobJSON.job(record))
        case (_, "job_timeout"): .json(504, JobJSON.job(record))
        case (_, "device_busy"), (_, "overloaded"): .json(503, JobJSON.job(record), headers: [("Retry-After", "1")])
        default: .json(500, JobJSON.job(record))
        }
    }

    private func listJobs(_ query: [(name: String, value: String)]) throws(APIError) -> HTTPResponse {
        var status: JobStatus?
        var limit = 100
        for (name, value) in query {
            switch name {
            case "status":
                guard let parsed = JobStatus(rawValue: value) else {
                    throw .badRequest(
                        "invalid_status",
                        "status must be one of \(JobStatus.allCases.map(\.rawValue).joined(separator: ", ")).")
                }
                status = parsed
            case "limit":
                guard let parsed = Int(value), (1...1000).contains(parsed) else {
                    throw .badRequest("invalid_limit", "limit must be a whole number from 1 to 1000.")
                }
                limit = parsed
            default:
                throw .badRequest("unknown_parameter", "Unknown query parameter '\(name)'; use status and limit.")
            }
        }
        let (jobs, counts) = store.list(status: status, limit: limit)
        return .json(200, JobJSON.list(jobs, counts: counts))
    }

    private func job(_ id: String) throws(APIError) -> HTTPResponse {
        guard let uuid = UUID(uuidString: id) else {
            throw .badRequest("invalid_job_id", "'\(id)' is not a job id; job ids are UUIDs.")
        }
        guard let record = store.job(uuid) else {
            throw .notFound("No job \(id): it never existed or is no longer retained.", code: "job_not_found")
        }
        return .json(200, JobJSON.job(record))
    }
}
