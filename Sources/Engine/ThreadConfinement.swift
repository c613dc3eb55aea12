import Glibc

/// Checks, in debug builds, that an object confined to one thread is used on that thread only.
/// The confinement is otherwise a promise in a comment: an `@unchecked Sendable` class the
/// compiler cannot check. Release builds keep nothing and check nothing.
public struct ThreadConfinement: @unchecked Sendable {
    #if DEBUG
    private var owner: pthread_t?
    #endif

    public init() {}

    /// The calling thread owns the object from now on.
    public mutating func bind() {
        #if DEBUG
        owner = pthread_self()
        #endif
    }

    /// Stops the program when called on another thread than the owner (once there is one).
    public func check(_ caller: StaticString = #function) {
        #if DEBUG
        if let owner, pthread_equal(owner, pthread_self()) == 0 {
            preconditionFailure("\(caller) called off the thread its object is confined to")
        }
        #endif
    }
}
