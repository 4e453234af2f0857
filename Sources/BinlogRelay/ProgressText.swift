/// Numbers as the commands print them for a person: durations, counts, sizes, progress bars
/// (`seed`'s and `verify`'s progress, log lines).
enum ProgressText {
    /// 1234 → 1234, 12345 → 12k, 1234567 → 1.2M (truncated, never rounded up).
    static func count(_ value: UInt64) -> String {
        switch value {
        case ..<10_000: return String(value)
        case ..<1_000_000: return String(value / 1000) + "k"
        default:
            let tenths = value / 100_000
            return "\(tenths / 10).\(tenths % 10)M"
        }
    }

    static func count(_ value: Double) -> String { count(value.isFinite && value > 0 ? UInt64(value) : 0) }

    /// 1536 → 1.5 KiB (powers of 1024, one decimal truncated).
    static func bytes(_ bytes: Double) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var value = bytes
        var unit = 0
        while value >= 1024 && unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        return unit == 0 ? "\(Int(value)) B" : "\(Double(Int(value * 10)) / 10) \(units[unit])"
    }

    /// 75 → 1:15, 3725 → 1:02:05; "?" when unknown.
    static func time(_ seconds: Double) -> String {
        guard seconds.isFinite, seconds >= 0 else { return "?" }
        let whole = Int(seconds.rounded())
        let hours = whole / 3600
        let minutes = whole / 60 % 60
        let rest = whole % 60
        let two = { (value: Int) in value < 10 ? "0\(value)" : "\(value)" }
        return hours > 0 ? "\(hours):\(two(minutes)):\(two(rest))" : "\(minutes):\(two(rest))"
    }

    /// 2.5 → "2.50" (seconds, two decimals).
    static func seconds(_ value: Double) -> String {
        let hundredths = Int((value * 100).rounded())
        let fraction = hundredths % 100
        return "\(hundredths / 100).\(fraction < 10 ? "0" : "")\(fraction)"
    }

    /// `[######------]` with `filled` of `width` marks.
    static func bar(filled: Int, width: Int = 24) -> String {
        let filled = min(width, max(0, filled))
        return "[" + String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled) + "]"
    }

    static func bar(_ fraction: Double, width: Int = 24) -> String {
        bar(filled: Int((min(1, max(0, fraction)) * Double(width)).rounded(.down)), width: width)
    }
}

extension Duration {
    /// The duration in seconds, as a Double.
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }

    /// "0.153" (milliseconds, three decimals) for log lines.
    var millisecondsText: String {
        let micros = components.seconds * 1_000_000 + components.attoseconds / 1_000_000_000_000
        let whole = micros / 1000
        let fraction = String(micros % 1000)
        return "\(whole).\(String(repeating: "0", count: 3 - fraction.count))\(fraction)"
    }
}
