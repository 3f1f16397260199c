package org.ringattention.cli;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.function.ToDoubleFunction;

/** The chart of {@code experiment overlap}: time per ring step against shard size, log-log. */
final class OverlapChart {

    private OverlapChart() {
    }

    /**
     * @param predicted the model's crossover c*
     * @param measured where measured transfer fell below compute (NaN: not within the sweep)
     */
    static Chart of(List<OverlapSweep.Row> rows, String title, String subtitle, double predicted,
            double measured) {
        double[] c = rows.stream().mapToDouble(OverlapSweep.Row::c).toArray();
        Chart chart = new Chart(title, subtitle, "shard size c = N / P (tokens per device)",
                "time per ring step (ms)")
                .add(series("compute", Chart.ORANGE, false, Chart.Marker.SQUARE, c, rows,
                        OverlapSweep.Row::computeMs))
                .add(series("transfer (K and V)", Chart.GREEN, false, Chart.Marker.TRIANGLE, c, rows,
                        OverlapSweep.Row::transferMs))
                .add(series("max(compute, transfer)", Chart.BLACK, true, Chart.Marker.NONE, c, rows,
                        OverlapSweep.Row::maxComputeTransferMs))
                // last, so that it is drawn on top where it meets the model
                .add(series("measured step (compute + wait)", Chart.BLUE, false, Chart.Marker.CIRCLE, c, rows,
                        OverlapSweep.Row::stepMs))
                .add(new Chart.Rule(String.format(Locale.ROOT, "predicted crossover c* = %.0f", predicted),
                        Chart.RED, predicted));
        if (!Double.isNaN(measured)) {
            chart.add(new Chart.Rule(String.format(Locale.ROOT, "measured compute = transfer at c = %.0f",
                    measured), Chart.PURPLE, measured));
        }
        return chart;
    }

    /**
     * The chart of an overlap.csv read back ({@code experiment replot}): the rows, c* and the title
     * come from its columns, the measured crossing is recomputed from the rows as the run does; the
     * caption says less than the run's, as the CSV does not record the CPU, kernels or repetitions.
     */
    static Chart chartOf(ExperimentCsv csv) {
        List<OverlapSweep.Row> rows = rowsOf(csv, "overlap", "gflops_per_device");
        double latency = csv.doubleAt(0, "latency_s");
        String title = String.format(Locale.ROOT, "Ring attention overlap: P = %d, d = %d, H = %d, B = %.1f MB/s%s",
                csv.intAt(0, "devices"), csv.intAt(0, "head_dim"), csv.intAt(0, "heads"),
                csv.doubleAt(0, "bandwidth_bytes_per_s") / 1e6, latency == 0 ? "" : ", latency " + latency + " s");
        int threads = csv.intAt(0, "threads");
        String caption = String.format(Locale.ROOT, "%d thread%s; F = %.3g GFLOP/s per device at c = %d; redrawn"
                + " from %s", threads, threads == 1 ? "" : "s", csv.doubleAt(0, "model_gflops_per_device"),
                csv.intAt(0, "model_c"), csv.file().getFileName());
        return of(rows, title, caption, csv.doubleAt(0, "predicted_crossover_c"), OverlapSweep.crossing(rows));
    }

    /**
     * The sweep's rows of an overlap CSV read back; the share hidden and the GFLOP/s are named
     * per device by {@code experiment overlap} and per rank by {@code experiment netns-overlap}.
     */
    static List<OverlapSweep.Row> rowsOf(ExperimentCsv csv, String hidden, String gflops) {
        List<OverlapSweep.Row> rows = new ArrayList<>();
        for (int i = 0; i < csv.rows(); i++) {
            rows.add(new OverlapSweep.Row(csv.intAt(i, "shard_c"), csv.intAt(i, "n"), csv.doubleAt(i, "compute_ms"),
                    csv.doubleAt(i, "transfer_ms"), csv.doubleAt(i, "wait_ms"), csv.doubleAt(i, "step_ms"),
                    csv.doubleAt(i, hidden), csv.longAt(i, "bytes_per_step"), csv.doubleAt(i, gflops) * 1e9));
        }
        return rows;
    }

    private static Chart.Series series(String name, java.awt.Color color, boolean dashed, Chart.Marker marker,
            double[] c, List<OverlapSweep.Row> rows, ToDoubleFunction<OverlapSweep.Row> y) {
        return new Chart.Series(name, color, dashed, marker, c, rows.stream().mapToDouble(y).toArray());
    }
}
