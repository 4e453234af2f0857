#if canImport(Glibc)
import Glibc
#endif

/// A thread of its own for a loop that blocks (the applier): it must not sit on Swift's
/// cooperative pool, and the process waits for it with ``join()``.
final class BackgroundThread {
    private final class Box {
        let body: () -> Void
        init(_ body: @escaping () -> Void) { self.body = body }
    }

    private var thread = pthread_t()

    init(name: String, _ body: @escaping @Sendable () -> Void) {
        let box = Unmanaged.passRetained(Box(body)).toOpaque()
        let result = pthread_create(&thread, nil, { argument in
            let box = Unmanaged<Box>.fromOpaque(argument!).takeRetainedValue()
            box.body()
            return nil
        }, box)
        precondition(result == 0, "pthread_create failed: \(result)")
        _ = name
    }

    func join() { pthread_join(thread, nil) }
}
