package org.ringattention.attention;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CoreClassTest {

    private static List<String> lines(String vendor, String family) {
        return List.of("processor\t: 0", "vendor_id\t: " + vendor, "cpu family\t: " + family, "model\t\t: 17",
                "model name\t: AMD   EPYC 9B45", "", "processor\t: 1", "vendor_id\t: GenuineIntel", "cpu family\t: 6");
    }

    private static CoreClass classOf(String vendor, String family) {
        return CoreClass.of(new CpuInfo(lines(vendor, family)));
    }

    @Test
    void amdFamily25IsTheZen4Class() {
        assertEquals(CoreClass.HALF_WIDTH_512, classOf("AuthenticAMD", "25"));
    }

    @Test
    void otherFamiliesAndVendorsAreFullWidth() {
        assertEquals(CoreClass.FULL_WIDTH_512, classOf("AuthenticAMD", "26"));
        assertEquals(CoreClass.FULL_WIDTH_512, classOf("GenuineIntel", "25"));
        assertEquals(CoreClass.FULL_WIDTH_512, CoreClass.of(new CpuInfo(List.of())));
    }

    @Test
    void fieldsAreTheFirstProcessorsWithWhiteSpaceCollapsed() {
        CpuInfo cpu = new CpuInfo(lines("AuthenticAMD", "25"));
        assertEquals("AuthenticAMD", cpu.field("vendor_id"));
        assertEquals("AMD EPYC 9B45", cpu.field("model name"));
        assertNull(cpu.field("flags"));
        assertEquals("x", new CpuInfo(List.of("model name\t:", "model name\t: x")).field("model name"));
    }

    @Test
    void anUnreadableCpuinfoHasNoFieldsAndIsFullWidth(@TempDir Path dir) throws IOException {
        CpuInfo missing = CpuInfo.read(dir.resolve("missing"));
        assertNull(missing.field("vendor_id"));
        assertEquals(CoreClass.FULL_WIDTH_512, CoreClass.of(missing));
        Path file = Files.write(dir.resolve("cpuinfo"), lines("AuthenticAMD", "25"));
        assertEquals(CoreClass.HALF_WIDTH_512, CoreClass.of(CpuInfo.read(file)));
    }
}
