import Foundation

/// Where a built-in model's weights are (`Models/<name>.safetensors` in the package's resources), or nil when
/// this build lacks them.
func builtinModelURL(_ resourceName: String) -> URL? {
    Bundle.module.url(forResource: resourceName, withExtension: "safetensors", subdirectory: "Models")
}

/// Built-in models load once per process: the first caller loads, later ones share the result.
final class LoadedOnce<Key: Hashable, Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var loaded: [Key: Value] = [:]

    func value(for key: Key, load: () throws -> Value) throws -> Value {
        try lock.withLock {
            if let value = loaded[key] { return value }
            let value = try load()
            loaded[key] = value
            return value
        }
    }
}
