import Synchronization

/// The connection limits over every loop's daemon: connections open at once, and from one
/// address. Each loop runs a libmicrohttpd daemon of its own, whose limits count only its own
/// connections, and the kernel spreads one client's connections over the loops; so the
/// limits are kept here, for all of them, when a connection opens.
final class ConnectionAdmission: Sendable {
    private struct State {
        var open = 0
        var perAddress: [[UInt8]: Int] = [:]
        /// The address of every admitted connection, by its id.
        var admitted: [UInt: [UInt8]] = [:]
    }

    private let limit: Int
    /// 0 is no limit.
    private let perAddressLimit: Int
    private let state = Mutex(State())

    init(limit: Int, perAddressLimit: Int) {
        self.limit = limit
        self.perAddressLimit = perAddressLimit
    }

    /// Whether connection `id` from `address` may stay open; if so it counts until `closed`.
    func admit(_ id: UInt, from address: [UInt8]) -> Bool {
        state.withLock { state in
            guard state.open < limit else { return false }
            if perAddressLimit > 0 {
                guard state.perAddress[address, default: 0] < perAddressLimit else { return false }
                state.perAddress[address, default: 0] += 1
            }
            state.open += 1
            state.admitted[id] = address
            return true
        }
    }

    /// Connection `id` closed; nothing happens for one that was not admitted.
    func closed(_ id: UInt) {
        state.withLock { state in
            guard let address = state.admitted.removeValue(forKey: id) else { return }
            state.open -= 1
            if perAddressLimit > 0 {
                state.perAddress[address, default: 1] -= 1
                if state.perAddress[address] == 0 { state.perAddress[address] = nil }
            }
        }
    }
}
