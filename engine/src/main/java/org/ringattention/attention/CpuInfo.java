package org.ringattention.attention;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * The {@code key : value} lines of Linux's {@code /proc/cpuinfo}, read once. The engine's start-up
 * choices ({@link CoreClass}) and the benchmarks' headings read the same fields through it. Where
 * the file cannot be read (not Linux, no permission) it holds no lines and every field is null.
 */
public final class CpuInfo {

    private static final CpuInfo SYSTEM = read(Path.of("/proc/cpuinfo"));

    private final List<String> lines;

    CpuInfo(List<String> lines) {
        this.lines = List.copyOf(lines);
    }

    /** This machine's {@code /proc/cpuinfo}. */
    public static CpuInfo system() {
        return SYSTEM;
    }

    /** The cpuinfo in a file; empty when it cannot be read. */
    static CpuInfo read(Path file) {
        try {
            return new CpuInfo(Files.readAllLines(file));
        } catch (IOException | RuntimeException e) {
            return new CpuInfo(List.of());
        }
    }

    /**
     * The first non-empty value of {@code key} (the first processor's, as every processor of one
     * machine lists the same model), runs of white space collapsed to one space; null when absent.
     */
    public String field(String key) {
        for (String line : lines) {
            int colon = line.indexOf(':');
            if (colon > 0 && line.substring(0, colon).trim().equals(key)) {
                String value = line.substring(colon + 1).trim().replaceAll("\\s+", " ");
                if (!value.isEmpty()) {
                    return value;
                }
            }
        }
        return null;
    }
}
