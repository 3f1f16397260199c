package org.ringattention.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;
import org.ringattention.attention.BlockSizes;
import org.ringattention.golden.Json;
import org.ringattention.kernel.Kernels;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code info}: the JDK, the Vector API, the CPU, and whether the SIMD kernels are in use. */
@Command(name = "info", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Prints the JDK, the Vector API species, the CPU, and whether the SIMD path is active.",
            "In detail: the JDK, whether the Vector API (jdk.incubator.vector) is present and its preferred"
            + " float species, the kernels in use and whether they are the SIMD ones, the CPU model and cores,"
            + " and the maximum heap."})
final class InfoCommand implements Callable<Integer> {

    static final String VECTOR_MODULE = "jdk.incubator.vector";

    /** CPU flags worth showing for SIMD (x86 names; absent elsewhere). */
    private static final List<String> SIMD_FLAGS = List.of("sse4_2", "avx", "avx2", "fma", "avx512f", "avx512bw",
            "avx512vl", "asimd", "sve");

    @Option(names = "--json", description = "Print one JSON object (one line) instead of text.")
    boolean json;

    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    /** What the Vector API reports, or why it is unavailable. */
    record Vector(boolean present, String species, int bits, int lanes, String problem) {
    }

    @Override
    public Integer call() {
        List<String> warnings = new ArrayList<>();
        Map<String, Object> m = collect(warnings::add);
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        warnings.forEach(w -> err.println("ring-attention: " + w));
        err.flush();
        if (json) {
            out.println(Json.writeCompact(m));
            out.flush();
            return 0;
        }
        String f = "%-16s %s%n";
        out.printf(f, "version", new Main.Version().getVersion()[0]);
        out.printf(f, "java", m.get("java_version") + " (" + m.get("java_vendor") + ", " + m.get("java_vm") + ")");
        out.printf(f, "java.home", m.get("java_home"));
        out.printf(f, "os", m.get("os"));
        @SuppressWarnings("unchecked")
        Map<String, Object> v = (Map<String, Object>) m.get("vector");
        if (Boolean.TRUE.equals(v.get("present"))) {
            out.printf(f, "vector API", VECTOR_MODULE + " present");
            out.printf(f, "vector species", v.get("species") == null ? "unavailable: " + v.get("problem")
                    : "FloatVector.SPECIES_PREFERRED = " + v.get("species") + ": " + v.get("bits") + " bits, "
                    + v.get("lanes") + " float lanes");
        } else {
            out.printf(f, "vector API", "absent: " + v.get("problem"));
        }
        out.printf(f, "kernels", m.get("kernels") + " (preferred), scalar twin: " + m.get("scalar_kernels"));
        out.printf(f, "SIMD path", Boolean.TRUE.equals(m.get("simd_active")) ? "active"
                : "inactive (the preferred kernels are the scalar ones)");
        Object family = m.get("cpu_family");
        out.printf(f, "cpu", m.get("cpu_model") + (family == null ? "" : " (family " + family + ")"));
        @SuppressWarnings("unchecked")
        List<Object> flags = (List<Object>) m.get("cpu_simd_flags");
        out.printf(f, "cpu SIMD flags", flags.isEmpty() ? "(none found)" : String.join(" ",
                flags.stream().map(String::valueOf).toList()));
        out.printf(f, "cores", m.get("available_processors") + " available processors");
        out.printf(f, "max heap", String.format("%.2f GiB", ((Long) m.get("max_heap_bytes")) / (double) (1L << 30)));
        @SuppressWarnings("unchecked")
        List<Map<String, Object>> tuned = (List<Map<String, Object>>) m.get("tuned_blocks");
        out.printf(f, "tuning file", m.get("tuning_file") + (tuned.isEmpty() ? " (nothing saved for this CPU)" : ""));
        out.printf(f, "default blocks", m.get("default_blocks") + " (where nothing is tuned)");
        for (Map<String, Object> t : tuned) {
            out.printf(Locale.ROOT, f, "tuned blocks", String.format(Locale.ROOT, "%s: %sx%s (%.1f GFLOP/s, saved %s)",
                    t.get("shape_class"), t.get("block_q"), t.get("block_kv"), (Double) t.get("gflops"), t.get("saved")));
        }
        out.flush();
        return 0;
    }

    static Map<String, Object> collect() {
        return collect(w -> { });
    }

    /** What info prints; problems with the tuning file go to {@code warn}. */
    static Map<String, Object> collect(java.util.function.Consumer<String> warn) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("java_version", Runtime.version().toString());
        m.put("java_vendor", System.getProperty("java.vendor"));
        m.put("java_vm", System.getProperty("java.vm.name"));
        m.put("java_home", System.getProperty("java.home"));
        m.put("os", System.getProperty("os.name") + " " + System.getProperty("os.version") + " "
                + System.getProperty("os.arch"));
        Vector v = vector();
        Map<String, Object> vm = new LinkedHashMap<>();
        vm.put("module", VECTOR_MODULE);
        vm.put("present", v.present());
        vm.put("species", v.species());
        vm.put("bits", v.species() == null ? null : v.bits());
        vm.put("lanes", v.species() == null ? null : v.lanes());
        vm.put("problem", v.problem());
        m.put("vector", vm);
        Kernels preferred = Kernels.preferred();
        m.put("kernels", preferred.name());
        m.put("scalar_kernels", Kernels.scalar().name());
        m.put("simd_active", !preferred.name().equals(Kernels.scalar().name()));
        Map<String, String> cpu = cpuInfo();
        m.put("cpu_model", cpu.getOrDefault("model name", cpu.getOrDefault("Hardware", "unknown")));
        m.put("cpu_family", cpu.get("cpu family"));
        List<Object> flags = new ArrayList<>();
        Set<String> have = Set.of(cpu.getOrDefault("flags", cpu.getOrDefault("Features", "")).split("\\s+"));
        for (String flag : SIMD_FLAGS) {
            if (have.contains(flag)) {
                flags.add(flag);
            }
        }
        m.put("cpu_simd_flags", flags);
        m.put("available_processors", Runtime.getRuntime().availableProcessors());
        m.put("max_heap_bytes", Runtime.getRuntime().maxMemory());
        m.put("tuning_file", TuningFile.path().toString());
        m.put("default_blocks", BlockSizes.describeRule());
        List<Map<String, Object>> tuned = new ArrayList<>();
        for (TuningFile.Entry e : TuningFile.forThisCpu(warn)) {
            Map<String, Object> t = new LinkedHashMap<>();
            t.put("shape_class", e.shapeClass());
            t.put("block_q", e.blockQ());
            t.put("block_kv", e.blockKv());
            t.put("gflops", e.gflops());
            t.put("saved", e.saved());
            tuned.add(t);
        }
        m.put("tuned_blocks", tuned);
        return m;
    }

    /** The Vector API's preferred float species, if the module is in the boot layer. */
    static Vector vector() {
        if (ModuleLayer.boot().findModule(VECTOR_MODULE).isEmpty()) {
            return new Vector(false, null, 0, 0, "module " + VECTOR_MODULE + " is not resolved (the JVM needs"
                    + " --add-modules " + VECTOR_MODULE + "; the launcher passes it)");
        }
        try {
            return species();
        } catch (LinkageError | RuntimeException e) {
            return new Vector(true, null, 0, 0, e.toString());
        }
    }

    // Kept apart so that a missing module fails here, where vector() catches it.
    private static Vector species() {
        jdk.incubator.vector.VectorSpecies<Float> s = jdk.incubator.vector.FloatVector.SPECIES_PREFERRED;
        return new Vector(true, s.toString(), s.vectorBitSize(), s.length(), null);
    }

    /** The first processor's entries of /proc/cpuinfo, or nothing where there is no such file. */
    static Map<String, String> cpuInfo() {
        Map<String, String> info = new LinkedHashMap<>();
        Path file = Path.of("/proc/cpuinfo");
        try {
            for (String line : Files.readAllLines(file, StandardCharsets.ISO_8859_1)) {
                int colon = line.indexOf(':');
                if (colon < 0) {
                    if (line.isBlank() && info.containsKey("model name")) {
                        break; // end of the first processor's block
                    }
                    continue;
                }
                info.putIfAbsent(line.substring(0, colon).strip(), line.substring(colon + 1).strip());
            }
        } catch (IOException | SecurityException e) {
            // not Linux, or not readable: "unknown"
        }
        return info;
    }
}
