import ArgumentParser

/// `binlog-relay status`: what `GET /status` says, for a person. Exit 0 when the relay is ready,
/// 1 when it answers but is not ready, 2 when it cannot be reached.
struct StatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Print a running relay's positions, lag and state (exit 0 ready, 1 not ready, 2 unreachable)."
    )

    @OptionGroup(title: "Settings")
    var config: ConfigOptions

    @Option(name: .customLong("url"), help: "The relay's HTTP address (default: http.listen of the settings, else 127.0.0.1:9104).")
    var url: String?

    @Flag(name: .customLong("json"), help: "Print the JSON of GET /status.")
    var json = false

    func run() throws {
        let (host, port) = try relayEndpoint(url: url, config: config)
        let response: HTTPRequest.Response
        do {
            response = try HTTPRequest(host: host, port: port, path: "/status", timeoutSeconds: 10).send()
        } catch {
            printError("binlog-relay status: \(error)")
            throw ExitCode(2)
        }
        guard response.status == 200, let report = try? StatusReport.decode(response.body) else {
            printError("binlog-relay status: \(host):\(port) answered HTTP \(response.status), not a relay's status")
            throw ExitCode(2)
        }
        print(json ? String(decoding: response.body, as: UTF8.self) : report.text)
        if !report.ready { throw ExitCode(1) }
    }
}

/// The address of the relay's HTTP side: `--url`, else `http.listen` of the settings.
func relayEndpoint(url: String?, config: ConfigOptions) throws -> (String, Int) {
    if let url {
        guard let endpoint = HTTPRequest.endpoint(url) else { throw ValidationError("--url: '\(url)' is not http://host:port") }
        return endpoint
    }
    let settings = try config.settings([:])
    return HTTPRequest.endpoint(settings.http.listen) ?? ("127.0.0.1", 9104)
}
