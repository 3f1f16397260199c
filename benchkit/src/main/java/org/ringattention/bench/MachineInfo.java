package org.ringattention.bench;

import com.sun.management.HotSpotDiagnosticMXBean;
import java.lang.management.ManagementFactory;
import org.ringattention.attention.CpuInfo;

/** What to print beside benchmark numbers: the CPU model, the Java runtime and how it runs. */
public final class MachineInfo {

    private MachineInfo() {
    }

    /**
     * The CPU model: the first "model name" of {@code /proc/cpuinfo} (Linux), else the OS
     * architecture and processor count.
     */
    public static String cpuModel() {
        String model = CpuInfo.system().field("model name");
        return model != null ? model
                : System.getProperty("os.arch") + " (" + Runtime.getRuntime().availableProcessors() + " processors)";
    }

    /**
     * The CPU family number of {@code /proc/cpuinfo} ("cpu family"; AMD Zen 4 is 25, Zen 5 is 26),
     * or null when the system does not say.
     */
    public static Integer cpuFamily() {
        String family = CpuInfo.system().field("cpu family");
        try {
            return family == null ? null : Integer.valueOf(family);
        } catch (NumberFormatException e) {
            return null;
        }
    }

    /**
     * The heading of a results table: the model and, where known, the family, as in
     * "AMD EPYC (family 26)".
     */
    public static String cpuDescription() {
        Integer family = cpuFamily();
        return family == null ? cpuModel() : cpuModel() + " (family " + family + ")";
    }

    /** For example "25.0.1+8-LTS (OpenJDK 64-Bit Server VM, Eclipse Adoptium)". */
    public static String javaVersion() {
        return Runtime.version() + " (" + System.getProperty("java.vm.name") + ", " + System.getProperty("java.vendor")
                + ")";
    }

    /**
     * Whether the JVM touches its heap's pages when it reserves them ({@code -XX:+AlwaysPreTouch}),
     * so that first touches (page faults, slow on virtual machines) do not fall into timed runs;
     * null when the JVM does not say.
     */
    public static Boolean heapPreTouched() {
        try {
            HotSpotDiagnosticMXBean vm = ManagementFactory.getPlatformMXBean(HotSpotDiagnosticMXBean.class);
            return vm == null ? null : Boolean.valueOf(vm.getVMOption("AlwaysPreTouch").getValue());
        } catch (RuntimeException | LinkageError e) {
            return null; // not HotSpot, or the jdk.management module is missing
        }
    }

    /** Processors available to this JVM. */
    public static int processors() {
        return Runtime.getRuntime().availableProcessors();
    }
}
