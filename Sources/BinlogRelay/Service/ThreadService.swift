import Applier
import ServiceLifecycle

/// A blocking loop (the source reader, the applier) as a service: it runs on a thread of its own,
/// never on Swift's cooperative pool, and a graceful shutdown or a cancellation asks it to stop
/// (it then finishes its batch, fsyncs or commits, and returns).
struct ThreadService: Service {
    let name: String
    let body: @Sendable () throws -> Void
    let stop: @Sendable () -> Void
    /// Runs on the service's task after the loop returned, before the service ends.
    let after: @Sendable (_ failure: (any Error)?) async -> Void

    init(
        name: String, body: @escaping @Sendable () throws -> Void, stop: @escaping @Sendable () -> Void,
        after: @escaping @Sendable ((any Error)?) async -> Void = { _ in }
    ) {
        self.name = name
        self.body = body
        self.stop = stop
        self.after = after
    }

    func run() async throws {
        let body = self.body
        let stop = self.stop
        var failure: (any Error)?
        do {
            try await withGracefulShutdownHandler {
                try await withTaskCancellationHandler {
                    try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                        BackgroundThread.detached {
                            do {
                                try body()
                                continuation.resume()
                            } catch {
                                continuation.resume(throwing: error)
                            }
                        }
                    }
                } onCancel: {
                    stop()
                }
            } onGracefulShutdown: {
                stop()
            }
        } catch {
            failure = error
        }
        await after(failure)
        if let failure { throw failure }
    }
}

/// A service that does its work in `body` until the group shuts down (periodic sampling).
struct PeriodicService: Service {
    let interval: Duration
    let tick: @Sendable () -> Void

    func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                tick()
                try? await Task.sleep(for: interval)
            }
        }
    }
}

/// A service whose failure says what it was (`http.listen 127.0.0.1:9104: Address already in use`).
struct LabelledService: Service {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    let label: String
    let inner: any Service

    func run() async throws {
        do {
            try await inner.run()
        } catch {
            throw Failure(description: "\(label): \(error)")
        }
    }
}
