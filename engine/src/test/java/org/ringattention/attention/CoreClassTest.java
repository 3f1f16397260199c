package org.ringattention.attention;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CoreClassTest {

    private static List<String> cpuinfo(String vendor, String family) {
        return List.of("processor\t: 0", "vendor_id\t: " + vendor, "cpu family\t: " + family, "model\t\t: 17",
                "model name\t: AMD EPYC", "", "processor\t: 1", "vendor_id\t: GenuineIntel", "cpu family\t: 6");
    }

    @Test
    void amdFamily25IsTheZen4Class() {
        assertEquals(CoreClass.HALF_WIDTH_512, CoreClass.fromCpuinfo(cpuinfo("AuthenticAMD", "25")));
    }

    @Test
    void otherFamiliesAndVendorsAreFullWidth() {
        assertEquals(CoreClass.FULL_WIDTH_512, CoreClass.fromCpuinfo(cpuinfo("AuthenticAMD", "26")));
        assertEquals(CoreClass.FULL_WIDTH_512, CoreClass.fromCpuinfo(cpuinfo("GenuineIntel", "25")));
        assertEquals(CoreClass.FULL_WIDTH_512, CoreClass.fromCpuinfo(List.of()));
    }

    @Test
    void anUnreadableCpuinfoIsFullWidth(@TempDir Path dir) throws IOException {
        assertEquals(CoreClass.FULL_WIDTH_512, CoreClass.detect(dir.resolve("missing")));
        Path file = Files.write(dir.resolve("cpuinfo"), cpuinfo("AuthenticAMD", "25"));
        assertEquals(CoreClass.HALF_WIDTH_512, CoreClass.detect(file));
    }
}
