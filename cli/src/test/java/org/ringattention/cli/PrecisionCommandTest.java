package org.ringattention.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** experiment precision: the ring within the rule at every P, bfloat16 merges growing with P, the merge. */
class PrecisionCommandTest {

    @TempDir
    Path tmp;

    @Test
    void ringStaysWithinTheRuleWhileBfloat16MergesGrowWithP() throws IOException {
        Path out = tmp.resolve("pr");
        CliRun r = CliRun.of("experiment", "precision", "--n", "64", "--head-dim", "8", "--max-devices", "16",
                "--threads", "1", "--block-q", "16", "--block-kv", "8", "--out", out.toString());
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.out()).contains("float32 vanilla baseline").contains("precision.png");
        List<Map<String, String>> rows = CsvFile.read(out.resolve("precision.csv"), List.of("devices", "shard",
                "o_err_ring", "o_ratio_ring", "dq_ratio_ring", "o_err_bf16", "lse_err_bf16", "o_err_merge_f32",
                "o_err_baseline"));
        assertThat(rows).extracting(m -> m.get("devices")).containsExactly("1", "2", "4", "8", "16");
        assertThat(rows).extracting(m -> m.get("shard")).containsExactly("64", "32", "16", "8", "4");
        for (Map<String, String> row : rows) {
            for (String x : List.of("o", "lse", "dq", "dk", "dv")) {
                assertThat(CsvFile.num(row, x + "_ratio_ring")).as("P=%s %s", row.get("devices"), x)
                        .isBetween(0.0, 1.0);
            }
            double ring = CsvFile.num(row, "o_err_ring");
            // the control merge in float32 is as accurate as float32 attention; bfloat16 is not
            assertThat(CsvFile.num(row, "o_err_merge_f32")).isLessThan(4 * CsvFile.num(row, "o_err_baseline"));
            assertThat(CsvFile.num(row, "o_err_bf16")).isGreaterThan(100 * ring);
            assertThat(CsvFile.num(row, "o_err_bf16")).isGreaterThanOrEqualTo(CsvFile.num(row, "o_err_bf16_out"));
        }
        // one rounding at P = 1; a rounding per step beyond
        assertThat(CsvFile.num(rows.get(4), "o_err_bf16")).isGreaterThan(2 * CsvFile.num(rows.get(0), "o_err_bf16"));
        assertThat(CsvFile.num(rows.get(4), "lse_err_bf16")).isGreaterThan(CsvFile.num(rows.get(0), "lse_err_bf16"));

        BufferedImage png = ImageIO.read(out.resolve("precision.png").toFile());
        assertThat(png.getWidth()).isEqualTo(Chart.WIDTH);
        assertThat(ChartTest.contains(png, Chart.BLUE.getRGB())).isTrue();
        assertThat(ChartTest.contains(png, Chart.RED.getRGB())).isTrue();
    }

    @Test
    void mergeOfTwoPartialsWeighsThemByTheirSums() {
        // row 0: two partials of equal LSE average; row 1: the first sees nothing
        float[] o = {1, 2, 5, 5};
        float[] l = {0, Float.NEGATIVE_INFINITY};
        PartialMerge.merge(o, l, new float[] {3, 4, 7, 8}, new float[] {0, 1}, 2);
        assertThat(o).containsExactly(2, 3, 7, 8);
        assertThat(l[0]).isEqualTo((float) Math.log(2));
        assertThat(l[1]).isEqualTo(1f);
    }

    @Test
    void badOptionsAreUsageErrors() {
        CliRun.of("experiment", "precision", "--n", "0").assertOneLineError(CliException.BAD_USAGE, "must be >= 1");
        CliRun.of("experiment", "precision", "--n", "100000")
                .assertOneLineError(CliException.BAD_USAGE, "too large for the float64 oracle");
    }
}
