package org.ringattention.cli;

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

    private static Chart.Series series(String name, java.awt.Color color, boolean dashed, Chart.Marker marker,
            double[] c, List<OverlapSweep.Row> rows, ToDoubleFunction<OverlapSweep.Row> y) {
        return new Chart.Series(name, color, dashed, marker, c, rows.stream().mapToDouble(y).toArray());
    }
}
