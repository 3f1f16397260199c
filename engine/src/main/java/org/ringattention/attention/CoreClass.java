package org.ringattention.attention;

/**
 * The kind of vector core the default block sizes are chosen for, detected once at start-up from
 * {@code /proc/cpuinfo} ({@link CpuInfo}). Only speed depends on it: block sizes never change a
 * result's contract, and the same sizes give the same bits on every core.
 *
 * <ul>
 *   <li>{@link #HALF_WIDTH_512}: AMD CPU family 25 (Zen 3 and Zen 4). Zen 4 runs a 512-bit FMA as
 *       two halves on 256-bit units, has a 32 KB L1 and 1 MB L2 a core; its kernels were tuned with
 *       128 × 128 blocks, and they stay the fastest there (docs/performance.md).
 *   <li>{@link #FULL_WIDTH_512}: everything else, tuned on AMD family 26 (Zen 5: two full-width
 *       512-bit FMA pipes, 48 KB L1).
 * </ul>
 */
public enum CoreClass {
    HALF_WIDTH_512("Zen 4 class (AMD family 25)"),
    FULL_WIDTH_512("full-width 512-bit or other");

    private static final CoreClass DETECTED = of(CpuInfo.system());

    private final String description;

    CoreClass(String description) {
        this.description = description;
    }

    /** The class of the cores this process runs on. */
    public static CoreClass detected() {
        return DETECTED;
    }

    /** The class of the first processor a cpuinfo lists; {@link #FULL_WIDTH_512} when it does not say. */
    static CoreClass of(CpuInfo cpu) {
        return "AuthenticAMD".equals(cpu.field("vendor_id")) && "25".equals(cpu.field("cpu family"))
                ? HALF_WIDTH_512
                : FULL_WIDTH_512;
    }

    @Override
    public String toString() {
        return description;
    }
}
