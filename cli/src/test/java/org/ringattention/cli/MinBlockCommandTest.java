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

/** experiment min-block: the paper's Table 2 recomputed, this CPU's row measured, the files, usage errors. */
class MinBlockCommandTest {

    @TempDir
    Path tmp;

    @Test
    void recomputesThePapersTableBesideThisCpu() throws IOException {
        Path out = tmp.resolve("mb");
        CliRun r = CliRun.of("experiment", "min-block", "--shard", "16", "--head-dim", "4", "--reps", "1",
                "--warmup-ms", "0", "--threads", "1", "--out", out.toString());
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.out()).contains("A100 NVLink").contains("this CPU, 1 of 2 in-process devices")
                .contains("min-block.png");
        List<Map<String, String>> rows = CsvFile.read(out.resolve("min-block.csv"), List.of("host", "flops_tflops",
                "bandwidth_gb_s", "paper_min_block_k", "min_block", "min_seq", "min_block_float32"));
        assertThat(rows).hasSize(6);
        Map<String, String> nvlink = rows.get(0);
        assertThat(nvlink.get("host")).isEqualTo("A100 NVLink");
        assertThat(CsvFile.num(nvlink, "min_block")).isCloseTo(312e12 / 300e9, within(1e-3));
        assertThat(CsvFile.num(nvlink, "min_seq")).isCloseTo(6 * 312e12 / 300e9, within(1e-2));
        assertThat(CsvFile.num(nvlink, "min_block_float32")).isCloseTo(2 * 312e12 / 300e9, within(1e-3));
        for (Map<String, String> row : rows.subList(0, 5)) {
            // the paper's own numbers, to its one decimal (A100 InfiniBand: 24.96 printed as 24.5)
            double recomputed = CsvFile.num(row, "min_block") / 1e3;
            assertThat(recomputed).as(row.get("host")).isCloseTo(CsvFile.num(row, "paper_min_block_k"),
                    within(0.5));
            assertThat(CsvFile.num(row, "min_seq") / 1e3).as(row.get("host"))
                    .isCloseTo(CsvFile.num(row, "paper_min_seq_k"), within(0.5));
        }
        Map<String, String> cpu = rows.get(5);
        double f = CsvFile.num(cpu, "flops_tflops") * 1e12;
        double b = CsvFile.num(cpu, "bandwidth_gb_s") * 1e9;
        assertThat(f).isPositive();
        assertThat(b).isPositive();
        assertThat(CsvFile.num(cpu, "min_block")).isCloseTo(f / b, within(f / b * 1e-4));
        assertThat(cpu.get("paper_min_block_k")).isEmpty();

        BufferedImage png = ImageIO.read(out.resolve("min-block.png").toFile());
        assertThat(png.getWidth()).isEqualTo(Chart.WIDTH);
        assertThat(ChartTest.contains(png, Chart.BLUE.getRGB())).isTrue(); // the first host's point
        assertThat(ChartTest.contains(png, Chart.BROWN.getRGB())).isTrue(); // this CPU's point
        assertThat(Files.list(out).map(p -> p.getFileName().toString()).sorted().toList())
                .containsExactly("min-block.csv", "min-block.png");
    }

    @Test
    void badOptionsAreUsageErrors() throws IOException {
        String never = tmp.resolve("never").toString();
        CliRun.of("experiment", "min-block", "--devices", "1", "--out", never)
                .assertOneLineError(CliException.BAD_USAGE, "--devices must be >= 2");
        CliRun.of("experiment", "min-block", "--shard", "0", "--out", never)
                .assertOneLineError(CliException.BAD_USAGE, "--shard must be >= 1");
        CliRun.of("experiment", "min-block", "--warmup-ms", "-1", "--out", never)
                .assertOneLineError(CliException.BAD_USAGE, "--warmup-ms");
        Path file = Files.writeString(tmp.resolve("a-file"), "x");
        CliRun.of("experiment", "min-block", "--out", file.toString())
                .assertOneLineError(CliException.BAD_USAGE, "is not a folder");
        assertThat(tmp.resolve("never")).doesNotExist();
    }
}
