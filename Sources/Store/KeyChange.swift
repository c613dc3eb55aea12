/// What a key change did.
public enum KeyChange: Sendable, Equatable {
    case done(StoredKey)
    /// No key has the name.
    case notFound
    /// A key has the name already (create).
    case nameTaken
    /// Deletion is not allowed for the key (PATCH it first), or a version out of range.
    case refused(String)
    case deleted
}
