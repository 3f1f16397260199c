package org.ringattention.attention;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;

import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.ringattention.kernel.Kernels;

/**
 * What CoreClassTest leaves out: the process-wide values (this machine's cpuinfo and the class
 * detected from it), the names the classes print in the benchmarks' headings, a line that starts
 * with its colon (it has no key, so it is no field), and BlockwiseAttention's kernels accessor.
 */
class CpuInfoTest {

    @Test
    void theSystemsCpuinfoIsReadOnceAndGivesTheDetectedClass() {
        CpuInfo system = CpuInfo.system();
        assertNotNull(system);
        assertSame(system, CpuInfo.system());
        CpuInfo again = CpuInfo.read(Path.of("/proc/cpuinfo"));
        assertEquals(again.field("vendor_id"), system.field("vendor_id"));
        assertEquals(again.field("cpu family"), system.field("cpu family"));
        assertSame(CoreClass.of(system), CoreClass.detected());
    }

    @Test
    void classesPrintWhatTheyAre() {
        assertEquals("Zen 4 class (AMD family 25)", CoreClass.HALF_WIDTH_512.toString());
        assertEquals("full-width 512-bit or other", CoreClass.FULL_WIDTH_512.toString());
    }

    @Test
    void aLineStartingWithItsColonHasNoKey() {
        CpuInfo cpu = new CpuInfo(List.of(": stray", "flags\t: fma avx2", "no colon here"));
        assertNull(cpu.field(""));
        assertEquals("fma avx2", cpu.field("flags"));
        assertNull(cpu.field("no colon here"));
    }

    @Test
    void blockwiseAttentionKeepsItsKernels() {
        Kernels scalar = Kernels.scalar();
        assertSame(scalar, new BlockwiseAttention(scalar, 16, 16, 1).kernels());
    }
}
