import COpenBLAS
import Foundation

/// Which OpenBLAS kernels run. OpenBLAS 0.3.21 (Debian 12) does not recognise some newer Intel CPUs and
/// falls back to its SSE3 "Prescott" kernels, about 5x slower than the AVX-512 ones on the same machine.
/// OpenBLAS reads `OPENBLAS_CORETYPE` only when it loads, so a program that wants the right kernels must
/// set it before starting: the `vqcodec` command restarts itself once with it set.
public enum BLASCore {
    /// The kernel family OpenBLAS chose, e.g. "SkylakeX", "Haswell", "Prescott".
    public static var name: String {
        guard let core = openblas_get_corename() else { return "unknown" }
        return String(cString: core)
    }

    /// The core type to force, when OpenBLAS fell back to generic kernels on a CPU that has better ones;
    /// nil when its own choice is fine or the variable is already set.
    public static func recommendedCoreType(environment: [String: String] = ProcessInfo.processInfo.environment) -> String? {
        guard environment["OPENBLAS_CORETYPE"] == nil, name.lowercased() == "prescott" else { return nil }
        return coreType(forCPUFlags: cpuFlags())
    }

    /// SkylakeX kernels need AVX-512 F/DQ/BW/VL; Haswell kernels need AVX2 and FMA.
    static func coreType(forCPUFlags flags: Set<String>) -> String? {
        if ["avx512f", "avx512dq", "avx512bw", "avx512vl"].allSatisfy(flags.contains) { return "SkylakeX" }
        if ["avx2", "fma"].allSatisfy(flags.contains) { return "Haswell" }
        return nil
    }

    static func cpuFlags() -> Set<String> {
        guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
              let line = text.split(separator: "\n").first(where: { $0.hasPrefix("flags") }),
              let colon = line.firstIndex(of: ":") else { return [] }
        return Set(line[line.index(after: colon)...].split(separator: " ").map(String.init))
    }
}
