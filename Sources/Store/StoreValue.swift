/// One column's value, as both stores bind and read it.
enum StoreValue: Sendable, Equatable {
    case null
    case integer(Int64)
    case text(String)
    case blob([UInt8])

    var integer: Int64? {
        if case .integer(let value) = self { value } else { nil }
    }

    var text: String? {
        if case .text(let value) = self { value } else { nil }
    }

    var blob: [UInt8]? {
        if case .blob(let value) = self { value } else { nil }
    }
}

extension StoreValue {
    init(_ value: Int?) {
        self = value.map { .integer(Int64($0)) } ?? .null
    }

    init(_ value: Int64?) {
        self = value.map { .integer($0) } ?? .null
    }

    init(_ value: String?) {
        self = value.map { .text($0) } ?? .null
    }
}
