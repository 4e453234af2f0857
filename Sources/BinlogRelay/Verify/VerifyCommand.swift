import Applier
import ArgumentParser
import MySQLClient

/// `binlog-relay verify`: compares the source and the target table by table, in chunks of key
/// ranges checksummed by both servers, and names every table and key range that differs.
/// Exit status: 0 equal, 1 different, 2 an error.
struct VerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Compare source and target table by table (chunked checksums); exit 0 when equal, 1 when they differ, 2 on error."
    )

    @OptionGroup(title: "Settings")
    var config: ConfigOptions

    @Option(name: .customLong("source-url"), help: "mysql://user[:password]@host[:port][?ssl-mode=…&ssl-ca=…] (source.url; password also from source.password_file).")
    var sourceURL: String?

    @Option(name: .customLong("target-url"), help: "The same for the target; TLS with VERIFY_IDENTITY unless ssl-mode says otherwise (target.url, target.password_file).")
    var targetURL: String?

    @OptionGroup(title: "Tables (as the applier selects them)")
    var selection: SelectionOptions

    @Option(name: .customLong("chunk-rows"), help: "Rows per chunk, walked by primary key on the source.")
    var chunkRows: Int = 10_000

    @Option(name: .customLong("recheck"), help: "Check a differing chunk again up to this many times, one --recheck-wait apart, before reporting it (a live relay lags a little).")
    var recheck: Int = 3

    @Option(name: .customLong("recheck-wait"), help: "Seconds between two checks of a differing chunk.")
    var recheckWait: Double = 1

    @Flag(name: .customLong("json"), help: "Print the report as one JSON object on standard output.")
    var json = false

    @Flag(name: .customLong("no-progress"), help: "No progress on standard error.")
    var noProgress = false

    func run() throws {
        let code: Int32
        do {
            code = try verify()
        } catch {
            printError("binlog-relay verify: \(error)")
            code = 2
        }
        if code != 0 { throw ExitCode(code) }
    }

    private func verify() throws(VerifyError) -> Int32 {
        guard chunkRows >= 1 else { throw VerifyError("--chunk-rows: at least 1") }
        guard recheck >= 0, recheckWait >= 0 else { throw VerifyError("--recheck and --recheck-wait: 0 or more") }
        // The same settings as `run` (--config, BINLOG_RELAY_… variables), options winning.
        var options = selection.overrides
        options["source.url"] = sourceURL.map { .text($0) }
        options["target.url"] = targetURL.map { .text($0) }
        let settings: RelaySettings
        do {
            settings = try RelaySettings(
                sources: SettingsSources(options: options, environment: Environment().values, configFile: config.configFile),
                require: [.target])
        } catch {
            throw VerifyError(error.description)
        }
        guard let sourceConfiguration = settings.source?.connection, let targetSettings = settings.target else {
            throw VerifyError("no source: set --source-url, BINLOG_RELAY_SOURCE_URL or source.url in --config")
        }
        let targetConfiguration = targetSettings.connection
        let selection = VerifySelection(filter: targetSettings.filter, relaySchema: targetSettings.relaySchema)
        let source = try connect(sourceConfiguration, side: "source")
        defer { source.close() }
        let target = try connect(targetConfiguration, side: "target")
        defer { target.close() }

        let progress = VerifyProgress(enabled: !noProgress)
        let plan = try VerifyPlan.make(source: source, target: target, selection: selection)
        progress.begin(tables: plan.pairs.count)
        let comparison = TableComparison(
            source: source, target: target, chunkRows: chunkRows, recheck: recheck,
            recheckWait: .milliseconds(Int(recheckWait * 1000)), progress: progress)
        var results: [TableResult] = []
        for pair in plan.pairs {
            progress.tableStarted(pair.source.qualifiedName)
            let result: TableResult
            if let targetTable = pair.target {
                result = try comparison.compare(pair.source, on: targetTable)
            } else {
                result = TableResult(
                    source: pair.source.qualifiedName, target: "\(pair.targetSchema).\(pair.source.name)", status: .missingOnTarget)
            }
            results.append(result)
            progress.tableDone(result)
        }
        for extra in plan.onlyOnTarget {
            results.append(TableResult(source: extra.source, target: extra.target, status: .missingOnSource))
        }
        progress.finish()

        let report = VerifyReport(results: results, seconds: progress.elapsedSeconds)
        printOutput(json ? report.json() : report.text())
        return report.equal ? 0 : 1
    }

    /// Connects and sets the session both sides compare in: UTC for TIMESTAMP text, no SQL mode
    /// that changes how values read (PAD_CHAR_TO_FULL_LENGTH), UTF-8 names.
    private func connect(_ configuration: MySQLConnectionConfiguration, side: String) throws(VerifyError) -> MySQLConnection {
        do {
            let connection = try MySQLConnection(configuration: configuration)
            try connection.execute("SET NAMES utf8mb4")
            try connection.execute("SET SESSION time_zone = '+00:00', SESSION sql_mode = ''")
            return connection
        } catch {
            throw VerifyError("\(side): \(error)")
        }
    }
}

/// Which source table is compared with which target table, and the target's extra tables.
struct VerifyPlan {
    struct Pair {
        var source: VerifyTable
        var targetSchema: String
        var target: VerifyTable?
    }

    var pairs: [Pair] = []
    var onlyOnTarget: [(source: String, target: String)] = []

    static func make(source: MySQLConnection, target: MySQLConnection, selection: VerifySelection) throws(VerifyError) -> VerifyPlan {
        let filter = selection.filter
        let excluded: Set<String> = [selection.relaySchema]
        let sourceTables: [String: VerifyTable]
        do {
            sourceTables = try VerifySchema.tables(source, schemas: nil, excluded: excluded)
        } catch {
            throw VerifyError("source: \(error)")
        }
        let included = sourceTables.values.filter { filter.includes(schema: $0.schema, table: $0.name) }
        // The target schemas that hold what the source's compared schemas replicate into.
        let sourceSchemas = Set(sourceTables.values.map(\.schema)).filter { filter.includes(schema: $0) }
            .union(included.map(\.schema))
        let targetSchemas = Set(sourceSchemas.map { filter.targetSchema($0) }).subtracting(VerifySchema.systemSchemas)
            .subtracting(excluded)
        let targetTables: [String: VerifyTable]
        do {
            targetTables = try VerifySchema.tables(target, schemas: targetSchemas.sorted(), excluded: excluded)
        } catch {
            throw VerifyError("target: \(error)")
        }
        var plan = VerifyPlan()
        for table in included.sorted(by: { ($0.schema, $0.name) < ($1.schema, $1.name) }) {
            let schema = filter.targetSchema(table.schema)
            plan.pairs.append(Pair(source: table, targetSchema: schema, target: targetTables["\(schema).\(table.name)"]))
        }
        for table in targetTables.values.sorted(by: { ($0.schema, $0.name) < ($1.schema, $1.name) }) {
            guard let schema = selection.sourceSchema(ofTarget: table.schema), filter.includes(schema: schema, table: table.name),
                sourceTables["\(schema).\(table.name)"] == nil
            else { continue }
            plan.onlyOnTarget.append((source: "\(schema).\(table.name)", target: table.qualifiedName))
        }
        return plan
    }
}

func printOutput(_ text: String) {
    print(text, terminator: text.hasSuffix("\n") || text.isEmpty ? "" : "\n")
}
