import ArgumentParser

/// A comma-separated option value such as `--appenders 1,8,64`.
struct CommaList<Element: ExpressibleByArgument & Sendable>: ExpressibleByArgument, Sendable {
    var values: [Element]

    init(_ values: [Element]) { self.values = values }

    init?(argument: String) {
        var values: [Element] = []
        for part in argument.split(separator: ",", omittingEmptySubsequences: false) {
            let trimmed = part.trimmingCharacters(while: { $0 == " " })
            guard let value = Element(argument: trimmed) else { return nil }
            values.append(value)
        }
        guard !values.isEmpty else { return nil }
        self.values = values
    }

    var defaultValueDescription: String {
        values.map { $0.defaultValueDescription }.joined(separator: ",")
    }
}

extension Substring {
    fileprivate func trimmingCharacters(while predicate: (Character) -> Bool) -> String {
        String(drop(while: predicate).reversed().drop(while: predicate).reversed())
    }
}
