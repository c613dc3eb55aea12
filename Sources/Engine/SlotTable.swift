/// Values named by tokens that index an array: a lookup is a bounds check and a comparison,
/// not a hash. The engine loop found its jobs and wait contexts in dictionaries by token four
/// to five times a job (insert, the callback's context, the job, its deadline, the removal,
/// each hashing the token through `Hasher` and a removal rehashing its neighbours): about 850
/// of the 60,000 instructions callgrind counted a request at zero latency, 700 fewer with these.
///
/// A token is its slot's index in the low 32 bits and the slot's generation above them; a slot's
/// generation changes when its value is removed, so a token whose value is gone finds nothing,
/// even once the slot holds another value (a late completion of a finished job). A generation
/// would have to wrap around 2^32 removals in one slot for an old token to match again. Tokens
/// never reach the top of the range (`UInt64.max` and just below), which the loop keeps for its
/// own fds.
struct SlotTable<Value> {
    private struct Slot {
        var generation: UInt32 = 0
        var value: Value?
    }

    private var slots: [Slot] = []
    /// Indices of empty slots, the latest emptied last: a new value takes the slot freed last,
    /// whose memory is likeliest still in the cache.
    private var free: [UInt32] = []
    /// Values stored.
    private(set) var count = 0

    /// Stores the value `make` returns for its token (a value that must know its own token, as
    /// a wait context does, is made with it); nothing is stored when `make` throws.
    mutating func insert(_ make: (UInt64) throws -> Value) rethrows -> (token: UInt64, value: Value) {
        let reusing = !free.isEmpty
        let index = reusing ? Int(free[free.count - 1]) : slots.count
        precondition(index < Int(Int32.max), "more than 2^31 values in a slot table")
        let token = UInt64(reusing ? slots[index].generation : 0) << 32 | UInt64(index)
        let value = try make(token)
        if reusing { free.removeLast() } else { slots.append(Slot()) }
        slots[index].value = value
        count += 1
        return (token, value)
    }

    /// The value stored under `token`, if it still is.
    subscript(token: UInt64) -> Value? {
        let index = Int(truncatingIfNeeded: token & 0xFFFF_FFFF)
        guard index < slots.count, slots[index].generation == UInt32(truncatingIfNeeded: token >> 32) else { return nil }
        return slots[index].value
    }

    /// Removes and returns the value stored under `token` (nil when it is not).
    @discardableResult
    mutating func remove(_ token: UInt64) -> Value? {
        let index = Int(truncatingIfNeeded: token & 0xFFFF_FFFF)
        guard index < slots.count, slots[index].generation == UInt32(truncatingIfNeeded: token >> 32),
            let value = slots[index].value
        else { return nil }
        slots[index].value = nil
        slots[index].generation &+= 1
        free.append(UInt32(index))
        count -= 1
        return value
    }

    /// Every stored value with its token, in slot order.
    func forEach(_ body: (UInt64, Value) throws -> Void) rethrows {
        for index in slots.indices {
            guard let value = slots[index].value else { continue }
            try body(UInt64(slots[index].generation) << 32 | UInt64(index), value)
        }
    }

    /// Removes every value; tokens given before find nothing afterwards.
    mutating func removeAll() {
        for index in slots.indices where slots[index].value != nil {
            slots[index].value = nil
            slots[index].generation &+= 1
            free.append(UInt32(index))
        }
        count = 0
    }
}
