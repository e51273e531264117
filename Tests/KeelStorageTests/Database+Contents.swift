import KeelStorage

extension Database {
    /// Everything committed in `bucket`, as a new reader sees it.
    func contents(_ bucket: [UInt8]) -> [[UInt8]: [UInt8]] {
        let read = beginRead()
        defer { read.end() }
        var all: [[UInt8]: [UInt8]] = [:]
        read.scan(bucket) { key, value in
            all[[UInt8](key)] = [UInt8](value)
            return true
        }
        return all
    }
}
