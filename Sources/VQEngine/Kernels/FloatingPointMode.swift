import CPlatform

/// Floating-point modes of the calling thread.
public enum FloatingPointMode {
    /// Treats denormal inputs and results as zero on this thread (x86 FTZ/DAZ, ARM FZ). Training loops call it:
    /// Adam's first moments of rarely used weights decay geometrically into the denormal range, and arithmetic
    /// on denormals costs tens of times more (the MLPVAE's late epochs spent half their time in `Adam.update`).
    /// Values that small change nothing measurable; results stay deterministic.
    public static func flushDenormalsToZero() { vq_flush_denormals_to_zero() }
}
