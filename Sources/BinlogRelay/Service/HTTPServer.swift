import Applier
import Hummingbird
import Logging
import NIOCore

/// A request context that knows the peer: `POST /promote` is taken only from this machine.
struct RelayRequestContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    let remoteAddress: SocketAddress?

    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress
    }

    var isLoopback: Bool {
        switch remoteAddress {
        case .v4?: return remoteAddress?.ipAddress?.hasPrefix("127.") == true
        case .v6?: return remoteAddress?.ipAddress == "::1" || remoteAddress?.ipAddress?.hasPrefix("::ffff:127.") == true
        case .unixDomainSocket?: return true
        case nil: return false
        }
    }
}

/// The HTTP side of DESIGN.md: `/metrics`, `/healthz`, `/readyz`, `/status`, `/lag-history`, the
/// status page at `/`, and `POST /promote` (loopback only).
enum RelayHTTP {
    static func application(
        settings: RelaySettings.HTTP, monitor: RelayMonitor, metrics: RelayMetrics, history: LagHistory,
        promotion: Promotion?, logger: Logger, onRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    ) -> some ApplicationProtocol {
        let router = Router(context: RelayRequestContext.self)
        router.get("/healthz") { _, _ in
            text("ok\n")
        }
        router.get("/readyz") { _, _ -> Response in
            let report = monitor.report()
            return report.ready ? text("ready\n") : text("not ready: \(report.notReadyReason ?? "unknown")\n", status: .serviceUnavailable)
        }
        router.get("/status") { _, _ -> Response in
            bytes(monitor.report().encoded(pretty: true) + [0x0A], contentType: "application/json")
        }
        router.get("/lag-history") { _, _ -> Response in
            bytes(history.json(), contentType: "application/json")
        }
        router.get("/metrics") { _, _ -> Response in
            let report = monitor.report()
            metrics.update(report: report, source: monitor.source?.snapshot, applier: monitor.applier?.snapshot)
            return bytes(metrics.exposition(), contentType: "text/plain; version=0.0.4; charset=utf-8")
        }
        router.get("/") { _, _ -> Response in
            bytes(Array(StatusPage.html.utf8), contentType: "text/html; charset=utf-8")
        }
        router.post("/promote") { _, context -> Response in
            guard context.isLoopback else {
                return text("promote is accepted from this machine only (run `binlog-relay promote` beside the relay)\n", status: .forbidden)
            }
            guard let promotion else {
                return text("this relay has no target to promote\n", status: .conflict)
            }
            logger.notice("promote requested over HTTP")
            let result = await promotion.promote()
            return bytes(result.encoded() + [0x0A], contentType: "application/json")
        }
        return Application(
            router: router,
            configuration: .init(address: .hostname(settings.host, port: settings.port), serverName: "binlog-relay"),
            onServerRunning: { channel in await onRunning(channel.localAddress?.port ?? settings.port) },
            logger: logger)
    }

    private static func text(_ body: String, status: HTTPResponse.Status = .ok) -> Response {
        bytes(Array(body.utf8), status: status, contentType: "text/plain; charset=utf-8")
    }

    private static func bytes(_ body: [UInt8], status: HTTPResponse.Status = .ok, contentType: String) -> Response {
        Response(
            status: status, headers: [.contentType: contentType, .cacheControl: "no-store"],
            body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }
}
