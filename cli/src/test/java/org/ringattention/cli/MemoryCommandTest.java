package org.ringattention.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** experiment memory: measured device bytes follow the Table 1 slope in N and P; the child JVM's peak RSS. */
class MemoryCommandTest {

    private static final List<String> COLUMNS = List.of("n", "devices", "shard", "device_bytes",
            "formula_ring_bytes", "formula_memeff_bytes", "formula_vanilla_bytes", "device_over_formula",
            "peak_rss_bytes");

    @TempDir
    Path tmp;

    @Test
    void measuredDeviceBytesFollowTheFormulasSlope() throws IOException {
        Path out = tmp.resolve("mem");
        CliRun r = CliRun.of("experiment", "memory", "--ns", "64,128,256,512", "--devices", "1,2,4,8", "--head-dim",
                "8", "--block-q", "16", "--block-kv", "16", "--threads", "1", "--out", out.toString());
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.out()).contains("slope of device bytes against N at P = 4").contains("memory.png");
        List<Map<String, String>> rows = CsvFile.read(out.resolve("memory.csv"), COLUMNS);
        assertThat(rows).hasSize(16);
        for (int p : new int[] {1, 2, 4, 8}) {
            List<Map<String, String>> s = rows.stream().filter(m -> m.get("devices").equals(String.valueOf(p)))
                    .toList();
            double[] n = s.stream().mapToDouble(m -> CsvFile.num(m, "n")).toArray();
            double[] bytes = s.stream().mapToDouble(m -> CsvFile.num(m, "device_bytes")).toArray();
            // 12 c h grows as N: so do the buffers, whatever their constant factor
            assertThat(MemoryCommand.slope(n, bytes)).as("P = %d", p).isCloseTo(1.0, within(0.03));
            double first = CsvFile.num(s.get(0), "device_over_formula");
            for (Map<String, String> m : s) {
                assertThat(CsvFile.num(m, "formula_ring_bytes")).isEqualTo(12.0 * CsvFile.num(m, "shard") * 8);
                assertThat(CsvFile.num(m, "device_over_formula")).isCloseTo(first, within(0.05 * first));
            }
        }
        // at a fixed N, a device holds 1/P of the sequence: from P = 2 on (P = 1 has no incoming buffer)
        for (String n : List.of("256", "512")) {
            double[] p = {2, 4, 8};
            double[] bytes = new double[3];
            for (int i = 0; i < 3; i++) {
                String devices = String.valueOf((int) p[i]);
                bytes[i] = CsvFile.num(rows.stream().filter(m -> m.get("n").equals(n) && m.get("devices")
                        .equals(devices)).findFirst().orElseThrow(), "device_bytes");
            }
            assertThat(MemoryCommand.slope(p, bytes)).as("N = %s", n).isCloseTo(-1.0, within(0.03));
        }
        Map<String, String> big = rows.stream().filter(m -> m.get("n").equals("512") && m.get("devices").equals("1"))
                .findFirst().orElseThrow();
        assertThat(CsvFile.num(big, "formula_vanilla_bytes")).isEqualTo(4.0 * 512 * 512);
        assertThat(big.get("peak_rss_bytes")).isEmpty(); // no --rss
        BufferedImage png = ImageIO.read(out.resolve("memory.png").toFile());
        assertThat(png.getWidth()).isEqualTo(Chart.WIDTH);
        assertThat(ChartTest.contains(png, Chart.BLUE.getRGB())).isTrue();
    }

    @Test
    void rssComesFromAChildJvmPerPoint() throws IOException {
        Path out = tmp.resolve("rss");
        CliRun r = CliRun.of("experiment", "memory", "--ns", "64", "--devices", "2", "--head-dim", "8", "--rss",
                "--child-heap", "256m", "--threads", "1", "--out", out.toString());
        assertThat(r.code()).as(r.err() + r.out()).isZero();
        Map<String, String> row = CsvFile.read(out.resolve("memory.csv"), COLUMNS).get(0);
        double rss = CsvFile.num(row, "peak_rss_bytes");
        if (Files.isReadable(Path.of("/proc/self/status"))) {
            // a JVM's resident set is megabytes, far above 64 tokens' buffers
            assertThat(rss).isGreaterThan(1e7).isGreaterThan(CsvFile.num(row, "device_bytes"));
        } else {
            assertThat(rss).isEqualTo(-1);
        }
    }

    @Test
    void badOptionsAreUsageErrors() {
        String never = tmp.resolve("never").toString();
        CliRun.of("experiment", "memory", "--ns", "0", "--out", never).assertOneLineError(CliException.BAD_USAGE,
                "must be >= 1");
        CliRun.of("experiment", "memory", "--ns", "8", "--devices", "16", "--out", never)
                .assertOneLineError(CliException.BAD_USAGE, "at most the shortest");
        CliRun.of("experiment", "memory", "--child-heap", "lots", "--out", never)
                .assertOneLineError(CliException.BAD_USAGE, "--child-heap");
        assertThat(tmp.resolve("never")).doesNotExist();
    }
}
