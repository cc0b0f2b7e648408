/// Shape errors are programming errors (a model wired wrongly), so ops stop with a precondition; the
/// message always names the op and the shapes involved.
@inline(never)
func shapeMismatch(_ op: String, _ a: [Int], _ b: [Int], _ detail: String = "") -> Never {
    preconditionFailure(shapeMismatchMessage(op, a, b, detail))
}

func shapeMismatchMessage(_ op: String, _ a: [Int], _ b: [Int], _ detail: String = "") -> String {
    "\(op): incompatible shapes \(a) and \(b)" + (detail.isEmpty ? "" : " (\(detail))")
}

@inline(__always)
func checkShape(_ condition: Bool, _ op: String, _ a: [Int], _ b: [Int], _ detail: @autoclosure () -> String = "") {
    if !condition { shapeMismatch(op, a, b, detail()) }
}

/// Normalises a possibly negative axis for a tensor of rank `rank`.
func normalizedAxis(_ axis: Int, rank: Int, op: String) -> Int {
    let a = axis < 0 ? axis + rank : axis
    precondition(a >= 0 && a < rank, "\(op): axis \(axis) is out of range for rank \(rank)")
    return a
}
