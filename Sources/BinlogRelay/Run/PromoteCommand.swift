import Applier
import ArgumentParser
import Logging

/// `binlog-relay promote`: failover. A running relay (found at its HTTP address) is told to stop
/// reading the source, apply everything its local log holds and stop; a relay that is not running
/// (crashed, or stopped with the source) has its log applied here. Either way the target is made
/// writable and the final applied position, the time it took and what can be said of the RPO are
/// printed. Exit 0 when the target is promoted.
struct PromoteCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "promote",
        abstract: "Failover: stop reading the source, apply all the local log holds, make the target writable, report RPO/RTO."
    )

    @OptionGroup(title: "Settings")
    var config: ConfigOptions

    @Option(name: .customLong("url"), help: "The running relay's HTTP address (default: http.listen of the settings).")
    var url: String?

    @Option(name: .customLong("log-dir"), help: "The local log, when the relay is not running (log.dir).")
    var logDirectory: String?

    @Option(name: .customLong("source-url"), help: "The old source, asked (briefly) what the target lacks, if it still answers (source.url).")
    var sourceURL: String?

    @OptionGroup(title: "Target")
    var target: TargetOptions

    @Flag(name: .customLong("json"), help: "Print the result as JSON.")
    var json = false

    func run() async throws {
        var options = target.overrides
        if let logDirectory { options["log.dir"] = .text(logDirectory) }
        if let sourceURL { options["source.url"] = .text(sourceURL) }
        let (host, port) = try relayEndpoint(url: url, config: config)
        var result: PromotionResult
        do {
            let response = try HTTPRequest(method: "POST", host: host, port: port, path: "/promote", timeoutSeconds: 0).send()
            guard response.status == 200 else {
                printError("binlog-relay promote: the relay at \(host):\(port) answered HTTP \(response.status): \(String(decoding: response.body, as: UTF8.self))")
                throw ExitCode.failure
            }
            result = try PromotionResult.decode(response.body)
        } catch let failure as HTTPRequest.Failure where failure.refused {
            // Nothing listens: the relay is not running. Apply its log from here.
            let settings = try config.settings(options, require: [.target, .log])
            settings.bootstrapLogging()
            let logger = settings.logger("binlog-relay.promote")
            logger.notice("no relay answers at \(host):\(port): applying the local log from here")
            let started = wallClockSeconds()
            let status = ApplierStatus()
            var failure: String?
            do {
                _ = try LocalApply.run(settings: settings, logger: logger, status: status)
            } catch {
                failure = "\(error)"
            }
            result = Promotion.finish(
                settings: .init(source: settings.source?.connection, target: settings.target!.connection, logDirectory: settings.log!.directory),
                applier: status.snapshot, appliedBefore: 0, failure: failure, started: started)
        }
        print(json ? String(decoding: result.encoded(), as: UTF8.self) : result.text)
        if !result.promoted { throw ExitCode.failure }
    }
}
