package org.ringattention.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;
import static org.assertj.core.api.Assertions.withinPercentage;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** experiment overlap on tiny sweeps: the CSV, the chart, the link model in the numbers, usage errors. */
class ExperimentCommandTest {

    private static final List<String> COLUMNS = List.of("shard_c", "n", "devices", "head_dim", "heads",
            "bandwidth_bytes_per_s", "latency_s", "compute_ms", "transfer_ms", "wait_ms", "step_ms",
            "max_compute_transfer_ms", "overlap", "predicted_crossover_c");

    @TempDir
    Path tmp;

    @Test
    void slowLinkSweepWritesCsvAndChartThatFollowTheModel() throws IOException {
        Path out = tmp.resolve("made/by/the/command");
        CliRun r = CliRun.of("experiment", "overlap", "--devices", "3", "--shards", "32,16", "--head-dim", "8",
                "--bandwidth", "1e6", "--reps", "1", "--warmup-ms", "0", "--threads", "1", "--out", out.toString());
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.out()).contains("predicted crossover c* = 2F/B").contains("measured crossover: compute = transfer")
                .contains("bandwidth B = 1.000e+06 bytes/s").doesNotContain("calibration").contains("overlap.png");

        List<Map<String, String>> rows = csv(out.resolve("overlap.csv"));
        assertThat(rows).hasSize(2);
        assertThat(rows).extracting(m -> m.get("shard_c")).containsExactly("16", "32"); // sorted
        for (Map<String, String> row : rows) {
            int c = Integer.parseInt(row.get("shard_c"));
            assertThat(row).containsEntry("n", String.valueOf(3 * c)).containsEntry("devices", "3")
                    .containsEntry("head_dim", "8").containsEntry("heads", "1");
            double compute = num(row, "compute_ms");
            double transfer = num(row, "transfer_ms");
            double step = num(row, "step_ms");
            assertThat(compute).isPositive();
            assertThat(step).isPositive();
            assertThat(num(row, "wait_ms")).isGreaterThanOrEqualTo(0);
            assertThat(num(row, "bandwidth_bytes_per_s")).isEqualTo(1e6);
            // K and V of c rows: 2 * c * d * H floats of 4 bytes, at 1e6 bytes/s
            long bytes = 8L * c * 8;
            assertThat(Long.parseLong(row.get("bytes_per_step"))).isEqualTo(bytes);
            assertThat(transfer).isGreaterThanOrEqualTo(bytes / 1e6 * 1e3);
            assertThat(num(row, "model_transfer_ms")).isCloseTo(bytes / 1e6 * 1e3, within(1e-6));
            // a step ends only once its shard has been sent on
            assertThat(step).isGreaterThanOrEqualTo(transfer - 1e-5);
            assertThat(num(row, "max_compute_transfer_ms")).isCloseTo(Math.max(compute, transfer), within(1e-5));
            assertThat(num(row, "overlap")).isBetween(0.0, 1.0);
            // c* = 2 F / B, F from the sweep at the size nearest sqrt(16 * 32) (a tie: the larger)
            assertThat(row).containsEntry("model_c", "32").containsEntry("calibrated_gflops_per_device", "");
            // both columns are printed to 6 significant digits (%.6g), each off by at most 5e-6
            // relative, so the identity holds to 1e-5 relative (0.001 %)
            assertThat(num(row, "predicted_crossover_c"))
                    .isCloseTo(2 * num(row, "model_gflops_per_device") * 1e9 / 1e6, withinPercentage(1e-3));
        }
        assertThat(num(rows.get(1), "gflops_per_device")).isEqualTo(num(rows.get(1), "model_gflops_per_device"));

        BufferedImage png = ImageIO.read(out.resolve("overlap.png").toFile());
        assertThat(png).isNotNull();
        assertThat(png.getWidth()).isEqualTo(1000);
        assertThat(png.getHeight()).isEqualTo(640);
        // every series is drawn, and so is the crossover rule (when on the chart) or its legend entry
        assertThat(contains(png, Chart.BLUE.getRGB())).as("measured step series").isTrue();
        assertThat(contains(png, Chart.ORANGE.getRGB())).as("compute series").isTrue();
        assertThat(contains(png, Chart.GREEN.getRGB())).as("transfer series").isTrue();
        assertThat(contains(png, Chart.RED.getRGB())).as("predicted crossover").isTrue();
        assertThat(Files.list(out).map(p -> p.getFileName().toString()).sorted().toList())
                .containsExactly("overlap.csv", "overlap.png"); // no temporary files left
    }

    @Test
    void autoBandwidthPutsThePredictedCrossoverInTheMiddleOfTheSweep() throws IOException {
        Path out = tmp.resolve("auto");
        CliRun r = CliRun.of("experiment", "overlap", "--shards", "16,64", "--head-dim", "8", "--reps", "1",
                "--warmup-ms", "0", "--quiet", "--out", out.toString());
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.out()).contains("calibration: F = ").contains("chosen so that c* = 2F/B = 32")
                .doesNotContain("compute_ms"); // quiet: no table
        List<Map<String, String>> rows = csv(out.resolve("overlap.csv"));
        assertThat(rows).hasSize(2);
        double calibrated = num(rows.get(0), "calibrated_gflops_per_device") * 1e9;
        double b = num(rows.get(0), "bandwidth_bytes_per_s");
        assertThat(b).isCloseTo(2 * calibrated / 32, within(2 * calibrated / 32 * 1e-4));
        // the prediction uses F as the sweep measured it, so c* is near 32, not exactly on it
        // c*, F and B are each printed to 6 significant digits (5e-6 relative at most): 1.5e-5 in all
        assertThat(num(rows.get(0), "predicted_crossover_c"))
                .isCloseTo(2 * num(rows.get(0), "model_gflops_per_device") * 1e9 / b, withinPercentage(1.5e-3));
    }

    @Test
    void latencyEntersTheTransferAndTheCrossover() throws IOException {
        Path out = tmp.resolve("latency");
        CliRun r = CliRun.of("experiment", "overlap", "--shards", "8", "--head-dim", "4", "--bandwidth", "1e9",
                "--latency", "0.004", "--reps", "1", "--warmup-ms", "0", "--quiet", "--out", out.toString());
        assertThat(r.code()).as(r.err()).isZero();
        Map<String, String> row = csv(out.resolve("overlap.csv")).get(0);
        assertThat(num(row, "latency_s")).isEqualTo(0.004);
        assertThat(num(row, "transfer_ms")).isGreaterThanOrEqualTo(4.0);
        // with latency c* is the root of 4 c^2 d H / F = L + 8 c d H / B: above 2F/B
        double f = num(row, "model_gflops_per_device") * 1e9;
        double cStar = num(row, "predicted_crossover_c");
        assertThat(cStar).isGreaterThan(2 * f / 1e9);
        assertThat(4 * cStar * cStar * 4 / f).isCloseTo(0.004 + 8 * cStar * 4 / 1e9, within(1e-6));
    }

    @Test
    void modelAndMeasuredCrossovers() {
        OverlapModel m = new OverlapModel(128, 2);
        assertThat(m.flops(1024)).isEqualTo(4.0 * 1024 * 1024 * 128 * 2);
        assertThat(m.bytes(1024)).isEqualTo(8L * 1024 * 128 * 2);
        assertThat(m.crossover(50e9, 1e8, 0)).isCloseTo(2 * 50e9 / 1e8, within(1e-6));
        assertThat(m.bandwidthFor(724, 50e9, 0)).isCloseTo(2 * 50e9 / 724, within(1e-3));
        assertThat(m.crossover(50e9, m.bandwidthFor(724, 50e9, 1e-3), 1e-3)).isCloseTo(724, within(1e-6));
        assertThat(m.bandwidthFor(724, 50e9, 1.0)).isNaN(); // latency alone outlasts the computing

        // transfer / compute = 4, 1.5, 0.5: crosses between 2 and 4, at 2 * 2^(ln 1.5 / ln 3)
        List<OverlapSweep.Row> rows = List.of(row(1, 1, 4, 4.1), row(2, 2, 3, 3.1), row(4, 4, 2, 4.3),
                row(8, 16, 4, 16.5));
        assertThat(OverlapSweep.crossing(rows)).isCloseTo(2 * Math.pow(2, Math.log(1.5) / Math.log(3)), within(1e-9));
        assertThat(OverlapSweep.hiddenFrom(rows, 0.10)).isEqualTo(4);
        assertThat(OverlapSweep.hiddenFrom(rows.subList(0, 2), 0.10)).isEqualTo(-1);
        assertThat(OverlapSweep.crossing(rows.subList(2, 4))).isNaN(); // compute is ahead throughout
        assertThat(OverlapCommand.nearest(List.of(128, 256, 512, 1024, 2048, 4096), 724.08)).isEqualTo(1024);
        assertThat(OverlapCommand.nearest(List.of(16, 64), 30)).isEqualTo(16);
    }

    private static OverlapSweep.Row row(int c, double compute, double transfer, double step) {
        return new OverlapSweep.Row(c, 2 * c, compute, transfer, step - compute, step, 0, 8L * c, 1);
    }

    @Test
    void badOptionsAreUsageErrorsOnOneLine() throws IOException {
        bad("--devices must be >= 2", "--devices", "1");
        bad("--shards sizes must be >= 1", "--shards", "0,16");
        bad("--shards", "--shards", "16,abc");
        bad("--bandwidth must be a positive number of bytes/s or auto, got 'fast'", "--bandwidth", "fast");
        bad("--bandwidth", "--bandwidth", "-5");
        bad("--latency must be >= 0", "--latency", "-1");
        bad("--reps must be >= 1", "--reps", "0");
        bad("--head-dim must be >= 1", "--head-dim", "0");
        bad("--heads must be >= 1", "--heads", "0");
        bad("--threads must be >= 1", "--threads", "0");
        bad("--warmup-ms must be >= 0", "--warmup-ms", "-1");
        Path file = Files.writeString(tmp.resolve("a-file"), "x");
        bad("--out " + file + ": is not a folder", "--out", file.toString());
        bad("--latency", "--shards", "1", "--latency", "10", "--bandwidth", "auto"); // no bandwidth is fast enough
    }

    /** Runs a tiny sweep with {@code args} (option, value pairs) replacing its options; expects a usage error. */
    private void bad(String fragment, String... args) {
        Map<String, String> options = new LinkedHashMap<>(Map.of("--head-dim", "4", "--reps", "1", "--warmup-ms", "0",
                "--shards", "4", "--out", tmp.resolve("never").toString()));
        for (int i = 0; i < args.length; i += 2) {
            options.put(args[i], args[i + 1]);
        }
        List<String> all = new ArrayList<>(List.of("experiment", "overlap"));
        options.forEach((k, v) -> all.addAll(List.of(k, v)));
        CliRun.of(all.toArray(String[]::new)).assertOneLineError(CliException.BAD_USAGE, fragment);
        assertThat(tmp.resolve("never")).doesNotExist();
    }

    private static List<Map<String, String>> csv(Path file) throws IOException {
        List<String> lines = Files.readAllLines(file);
        assertThat(lines).isNotEmpty();
        List<String> header = List.of(lines.get(0).split(","));
        assertThat(header).containsAll(COLUMNS);
        List<Map<String, String>> rows = new ArrayList<>();
        for (String line : lines.subList(1, lines.size())) {
            String[] cells = line.split(",", -1);
            assertThat(cells).hasSameSizeAs(header.toArray());
            Map<String, String> row = new HashMap<>();
            for (int i = 0; i < cells.length; i++) {
                row.put(header.get(i), cells[i]);
            }
            rows.add(row);
        }
        return rows;
    }

    private static double num(Map<String, String> row, String column) {
        assertThat(row).containsKey(column);
        return Double.parseDouble(row.get(column));
    }

    private static boolean contains(BufferedImage img, int rgb) {
        for (int y = 0; y < img.getHeight(); y++) {
            for (int x = 0; x < img.getWidth(); x++) {
                if ((img.getRGB(x, y) & 0xffffff) == (rgb & 0xffffff)) {
                    return true;
                }
            }
        }
        return false;
    }
}
