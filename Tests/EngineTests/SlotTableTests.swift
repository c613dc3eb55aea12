import Testing
@testable import Engine

/// The engine loop names its jobs and wait contexts by slot-table tokens: a token must find its
/// value while it is stored and never after, even once its slot holds another value (a late
/// completion of a finished job must not resume the job that took its slot).
@Suite struct SlotTables {
    final class Probe {
        let name: String
        init(_ name: String) { self.name = name }
    }

    @Test func aTokenFindsItsValueUntilItIsRemovedAndNeverAgain() {
        var table = SlotTable<Probe>()
        let first = table.insert { _ in Probe("first") }.token
        let second = table.insert { _ in Probe("second") }.token
        #expect(table[first]?.name == "first")
        #expect(table[second]?.name == "second")
        #expect(table.count == 2)

        #expect(table.remove(first)?.name == "first")
        #expect(table[first] == nil)
        #expect(table.remove(first) == nil, "a second removal finds nothing")
        // The freed slot is taken again, under a token of its own.
        let third = table.insert { _ in Probe("third") }.token
        #expect(third != first)
        #expect(third & 0xFFFF_FFFF == first & 0xFFFF_FFFF, "the freed slot is reused")
        #expect(table[first] == nil, "the old token does not find the slot's new value")
        #expect(table.remove(first) == nil)
        #expect(table[third]?.name == "third")
        #expect(table.count == 2)
    }

    @Test func aValueMadeWithItsTokenIsStoredUnderIt() throws {
        var table = SlotTable<(token: UInt64, name: String)>()
        for name in ["a", "b", "c"] {
            let (token, value) = table.insert { token in (token, name) }
            #expect(value.token == token)
            #expect(table[token]?.name == name)
        }
        struct Refused: Error {}
        #expect(throws: Refused.self) { try table.insert { _ in throw Refused() } }
        #expect(table.count == 3, "a value that could not be made takes no slot")
        var seen: [String] = []
        table.forEach { token, value in
            #expect(value.token == token)
            seen.append(value.name)
        }
        #expect(seen == ["a", "b", "c"])
    }

    @Test func removingEverythingInvalidatesEveryToken() {
        var table = SlotTable<Probe>()
        let tokens = (0..<100).map { index in table.insert { _ in Probe("\(index)") }.token }
        for token in tokens where token % 3 == 0 { table.remove(token) }
        table.removeAll()
        #expect(table.count == 0)
        #expect(tokens.allSatisfy { table[$0] == nil })
        var visited = 0
        table.forEach { _, _ in visited += 1 }
        #expect(visited == 0)
        // Refilled, the slots hand out tokens none of the old ones match.
        let refilled = (0..<100).map { index in table.insert { _ in Probe("new \(index)") }.token }
        #expect(Set(refilled).isDisjoint(with: tokens))
        #expect(tokens.allSatisfy { table[$0] == nil })
        #expect(refilled.allSatisfy { table[$0] != nil })
        #expect(tokens.allSatisfy { $0 < UInt64.max - 2 } && refilled.allSatisfy { $0 < UInt64.max - 2 },
                "tokens stay clear of the loop's own fds")
    }
}
