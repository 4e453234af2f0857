import Configuration
import SystemPackage

/// A setting that cannot be used: the message names the key (`target.workers: …`).
struct SettingsError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Where settings come from, strongest first: command-line options, `BINLOG_RELAY_…` environment
/// variables, the YAML file. Each lookup says which of them gave the value (`--check-config`).
struct SettingsSources {
    enum Origin: String, Sendable {
        case option = "command line"
        case environment
        case file = "config file"
        case defaultValue = "default"
    }

    enum Value: Sendable, Equatable {
        case text(String)
        case list([String])
    }

    private let options: [String: Value]
    private let environment: EnvironmentVariablesProvider
    private let file: YAMLSnapshot?
    let filePath: String?
    /// `BINLOG_RELAY_…` variables that name no setting (warned about: a typo in a variable name
    /// would otherwise be silently ignored).
    let unknownVariables: [String]

    /// Reads the YAML file (when given) and checks that every key in it is known.
    init(options: [String: Value], environment: [String: String], configFile: String?) throws(SettingsError) {
        self.options = options
        // The relay's variables only, under their setting names; the aliases of DESIGN.md fill in
        // for the long names when those are not set.
        var relayVariables: [String: String] = [:]
        var unknown: [String] = []
        let known = Set(SettingKey.all.map(\.environmentName))
        let aliases = Dictionary(uniqueKeysWithValues: SettingKey.all.compactMap { key in key.alias.map { ($0, key) } })
        for (name, value) in environment where name.hasPrefix("BINLOG_RELAY_") && !value.isEmpty {
            if known.contains(name) {
                relayVariables[name] = value
            } else if let key = aliases[name] {
                if environment[key.environmentName].map(\.isEmpty) ?? true { relayVariables[key.environmentName] = value }
            } else if !SettingKey.otherVariables.contains(name) {
                unknown.append(name)
            }
        }
        unknownVariables = unknown.sorted()
        self.environment = EnvironmentVariablesProvider(environmentVariables: relayVariables, arraySeparator: ",")

        filePath = configFile
        guard let configFile else {
            file = nil
            return
        }
        let bytes = try Self.readFile(configFile, what: "--config")
        do {
            // Every value marked secret: the snapshot's description (which lists the keys, read
            // below) then never holds a value.
            file = try bytes.withUnsafeBufferPointer { buffer in
                try YAMLSnapshot(
                    data: RawSpan(_unsafeElements: buffer), providerName: "yaml",
                    parsingOptions: .init(secretsSpecifier: .all))
            }
        } catch {
            throw SettingsError("\(configFile): not a YAML mapping of settings: \(error)")
        }
        try checkFileKeys()
    }

    /// The value of a setting and where it came from; nil when nothing sets it.
    func value(_ key: SettingKey) throws(SettingsError) -> (value: Value, origin: Origin)? {
        if let value = options[key.name] { return (value, .option) }
        let configKey = AbsoluteConfigKey(key.name.split(separator: ".").map(String.init))
        let type: ConfigType = key.kind == .list ? .stringArray : .string
        do {
            let environmentKey = AbsoluteConfigKey(["binlog_relay"] + configKey.components)
            if let found = try environment.value(forKey: environmentKey, type: type).value {
                return (Self.value(found.content), .environment)
            }
            if let file {
                // A list given as one value (`include: shop`) is a list of one.
                let found =
                    key.kind == .list
                    ? try (try? file.value(forKey: configKey, type: .stringArray).value) ?? file.value(forKey: configKey, type: .string).value
                    : try file.value(forKey: configKey, type: type).value
                if let found { return (Self.value(found.content), .file) }
            }
        } catch {
            let expected = key.kind == .list ? "a list of strings" : "a single value"
            throw SettingsError("\(key.name): must be \(expected)")
        }
        return nil
    }

    private static func value(_ content: ConfigContent) -> Value {
        switch content {
        case .stringArray(let items): .list(items)
        case .string(let text): .text(text)
        case .int(let number): .text(String(number))
        case .double(let number): .text(String(number))
        case .bool(let flag): .text(String(flag))
        default: .text("")
        }
    }

    /// Unknown keys are errors naming the key: a misspelt setting must not be ignored silently.
    private func checkFileKeys() throws(SettingsError) {
        guard let file, let filePath else { return }
        let keys = Self.keys(of: file)
        let sections = Set(SettingKey.all.map { String($0.name.split(separator: ".")[0]) })
        // A section left empty (`target:` with its keys commented out) is no setting of its own.
        for key in keys where sections.contains(key) {
            let value = try? file.value(forKey: AbsoluteConfigKey([key]), type: .string).value
            if case .string(let text)? = value?.content, text.isEmpty || text == "null" || text == "~" { continue }
            throw SettingsError("\(filePath): '\(key)' must be a section of settings (\(key).…: value)")
        }
        for key in keys where SettingKey.byName[key] == nil && !sections.contains(key) {
            let section = key.split(separator: ".").first.map(String.init) ?? key
            let siblings = SettingKey.all.filter { $0.name.hasPrefix(section + ".") }.map(\.name)
            let hint = siblings.isEmpty
                ? "sections are \(sections.sorted().joined(separator: ", "))"
                : "known in \(section): \(siblings.joined(separator: ", "))"
            throw SettingsError("\(filePath): unknown setting '\(key)' (\(hint))")
        }
    }

    /// The dotted keys a YAML snapshot holds, read from its description (the library offers no
    /// listing); every value is marked secret, so the description holds `key=<REDACTED>` items only.
    static func keys(of snapshot: YAMLSnapshot) -> [String] {
        let text = snapshot.debugDescription
        guard let start = text.firstRange(of: " values: "), text.hasSuffix("]") else { return [] }
        let body = text[start.upperBound..<text.index(before: text.endIndex)]
        return body.split(separator: "=<REDACTED>").compactMap { item in
            let key = item.hasPrefix(", ") ? String(item.dropFirst(2)) : String(item)
            return key.isEmpty ? nil : key
        }
    }

    /// A small file's bytes (the settings file, a password file); `what` names it in errors.
    static func readFile(_ path: String, what: String, limit: Int = 1 << 20) throws(SettingsError) -> [UInt8] {
        let descriptor: FileDescriptor
        do {
            descriptor = try FileDescriptor.open(FilePath(path), .readOnly)
        } catch {
            throw SettingsError("\(what): cannot read \(path): \(error)")
        }
        defer { try? descriptor.close() }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 16 << 10)
        while true {
            let count: Int
            do {
                count = try buffer.withUnsafeMutableBytes { try descriptor.read(into: $0) }
            } catch {
                throw SettingsError("\(what): cannot read \(path): \(error)")
            }
            if count == 0 { break }
            bytes.append(contentsOf: buffer[0..<count])
            guard bytes.count <= limit else { throw SettingsError("\(what): \(path) is larger than \(limit) bytes") }
        }
        return bytes
    }
}
