import Foundation

/// The stages of a keel's `/debug/latency` answer, each stage's JSON object by its name;
/// empty when the body is not that JSON.
func latencyStages(_ body: String) -> [String: [String: Any]] {
    let parsed = try? JSONSerialization.jsonObject(with: Data(body.utf8))
    let stages = (parsed as? [String: Any])?["stages"] as? [[String: Any]] ?? []
    return Dictionary(stages.compactMap { stage in (stage["stage"] as? String).map { ($0, stage) } }) { first, _ in first }
}

/// Each stage's count in a `/debug/latency` answer.
func latencyStageCounts(_ body: String) -> [String: Int] {
    latencyStages(body).compactMapValues { ($0["count"] as? NSNumber)?.intValue }
}
