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
    static LineChart of(List<OverlapSweep.Row> rows, String title, String subtitle, double predicted,
            double measured) {
        double[] c = rows.stream().mapToDouble(OverlapSweep.Row::c).toArray();
        LineChart chart = new LineChart(title, subtitle, "shard size c = N / P (tokens per device)",
                "time per ring step (ms)")
                .add(series("compute", LineChart.ORANGE, false, LineChart.Marker.SQUARE, c, rows,
                        OverlapSweep.Row::computeMs))
                .add(series("transfer (K and V)", LineChart.GREEN, false, LineChart.Marker.TRIANGLE, c, rows,
                        OverlapSweep.Row::transferMs))
                .add(series("max(compute, transfer)", LineChart.BLACK, true, LineChart.Marker.NONE, c, rows,
                        OverlapSweep.Row::maxComputeTransferMs))
                // last, so that it is drawn on top where it meets the model
                .add(series("measured step (compute + wait)", LineChart.BLUE, false, LineChart.Marker.CIRCLE, c, rows,
                        OverlapSweep.Row::stepMs))
                .add(new LineChart.Rule(String.format(Locale.ROOT, "predicted crossover c* = %.0f", predicted),
                        LineChart.RED, predicted));
        if (!Double.isNaN(measured)) {
            chart.add(new LineChart.Rule(String.format(Locale.ROOT, "measured compute = transfer at c = %.0f",
                    measured), LineChart.PURPLE, measured));
        }
        return chart;
    }

    private static LineChart.Series series(String name, java.awt.Color color, boolean dashed, LineChart.Marker marker,
            double[] c, List<OverlapSweep.Row> rows, ToDoubleFunction<OverlapSweep.Row> y) {
        return new LineChart.Series(name, color, dashed, marker, c, rows.stream().mapToDouble(y).toArray());
    }
}
