package org.ringattention.attention;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * The kind of vector core the default block sizes are chosen for, detected once at start-up from
 * {@code /proc/cpuinfo}. Only speed depends on it: block sizes never change a result's contract,
 * and the same sizes give the same bits on every core.
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

    private static final CoreClass DETECTED = detect(Path.of("/proc/cpuinfo"));

    private final String description;

    CoreClass(String description) {
        this.description = description;
    }

    /** The class of the cores this process runs on. */
    public static CoreClass detected() {
        return DETECTED;
    }

    /** The class that {@code cpuinfo} describes; {@link #FULL_WIDTH_512} when it cannot be read. */
    static CoreClass detect(Path cpuinfo) {
        try {
            return fromCpuinfo(Files.readAllLines(cpuinfo));
        } catch (IOException | RuntimeException e) {
            return FULL_WIDTH_512;
        }
    }

    /** The class of the first processor listed in the lines of a {@code /proc/cpuinfo}. */
    static CoreClass fromCpuinfo(List<String> lines) {
        String vendor = field(lines, "vendor_id");
        String family = field(lines, "cpu family");
        return "AuthenticAMD".equals(vendor) && "25".equals(family) ? HALF_WIDTH_512 : FULL_WIDTH_512;
    }

    private static String field(List<String> lines, String name) {
        for (String line : lines) {
            int colon = line.indexOf(':');
            if (colon > 0 && line.substring(0, colon).trim().equals(name)) {
                return line.substring(colon + 1).trim();
            }
        }
        return null;
    }

    @Override
    public String toString() {
        return description;
    }
}
