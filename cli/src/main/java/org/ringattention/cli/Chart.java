package org.ringattention.cli;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.OutputStream;
import java.math.BigDecimal;
import java.math.MathContext;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import javax.imageio.ImageIO;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.style.Styler;
import org.knowm.xchart.style.XYStyler;
import org.knowm.xchart.style.lines.SeriesLines;
import org.knowm.xchart.style.markers.SeriesMarkers;

/**
 * A line chart of the experiments, drawn by XChart into a PNG of {@link #WIDTH} × {@link #HEIGHT}
 * pixels without a display: series of points (x, y), vertical rules at single x values (drawn as
 * two-point series across the data's y range, so they have a legend entry), each axis linear or
 * logarithmic (log by default). A log axis cannot show a point that is not positive, and no axis
 * one that is not finite: such points are left out. A caption line under the chart says how the
 * numbers were made.
 *
 * <p>Tick labels of a log axis ({@link #logTicks}): XChart labels only powers of ten by default, so
 * an axis whose data lie within one or two decades (two budgets of 16 and 32 MiB) showed no label
 * at all. An axis spanning at least two decades keeps the decade labels; a narrower one labels 1, 2
 * and 5 times a power of ten, and every tick (1 to 9 times a power of ten) when it spans at most one
 * decade (y) or half a decade (x, whose labels stand side by side): what fits on a 1000-pixel chart.
 */
final class Chart {

    static {
        System.setProperty("java.awt.headless", "true"); // before any AWT class asks for a display
    }

    static final int WIDTH = 1000;
    static final int HEIGHT = 640;

    private static final int CAPTION_HEIGHT = 26;

    // A palette (matplotlib's first colors), here so that AWT is headless before any Color exists.
    static final Color BLUE = new Color(31, 119, 180);
    static final Color ORANGE = new Color(255, 127, 14);
    static final Color GREEN = new Color(44, 160, 44);
    static final Color RED = new Color(214, 39, 40);
    static final Color PURPLE = new Color(148, 103, 189);
    static final Color BROWN = new Color(140, 86, 75);
    static final Color PINK = new Color(227, 119, 194);
    static final Color GRAY = new Color(127, 127, 127);
    static final Color OLIVE = new Color(188, 189, 34);
    static final Color CYAN = new Color(23, 190, 207);
    static final Color BLACK = new Color(20, 20, 20);

    /** The palette in order, for charts with many series. */
    static final List<Color> PALETTE = List.of(BLUE, ORANGE, GREEN, RED, PURPLE, BROWN, PINK, GRAY, OLIVE, CYAN);

    enum Marker { NONE, CIRCLE, SQUARE, TRIANGLE, DIAMOND }

    record Series(String name, Color color, boolean dashed, Marker marker, double[] x, double[] y) {
        Series {
            if (x.length != y.length) {
                throw new IllegalArgumentException(name + ": " + x.length + " x values but " + y.length + " y values");
            }
        }
    }

    /** A vertical line at {@code x}. */
    record Rule(String name, Color color, double x) {
    }

    private final String title;
    private final String caption;
    private final String xLabel;
    private final String yLabel;
    private boolean logX = true;
    private boolean logY = true;
    private boolean legendBeside;
    private final List<Series> series = new ArrayList<>();
    private final List<Rule> rules = new ArrayList<>();

    Chart(String title, String caption, String xLabel, String yLabel) {
        this.title = title;
        this.caption = caption;
        this.xLabel = xLabel;
        this.yLabel = yLabel;
    }

    /** Sets which axes are logarithmic (both, by default). */
    Chart axes(boolean logX, boolean logY) {
        this.logX = logX;
        this.logY = logY;
        return this;
    }

    /** Puts the legend beside the plot instead of in its corner (for charts whose data fill the corners). */
    Chart legendBeside() {
        this.legendBeside = true;
        return this;
    }

    Chart add(Series s) {
        series.add(s);
        return this;
    }

    Chart add(Rule r) {
        rules.add(r);
        return this;
    }

    /** Writes the chart as a PNG. */
    void writePng(Path target) throws IOException {
        try (OutputStream out = Files.newOutputStream(target)) {
            if (!ImageIO.write(render(), "png", out)) {
                throw new IOException("no PNG writer in this Java runtime");
            }
        }
    }

    BufferedImage render() {
        XYChart chart = new XYChartBuilder().width(WIDTH).height(HEIGHT - CAPTION_HEIGHT).title(title)
                .xAxisTitle(xLabel).yAxisTitle(yLabel).build();
        XYStyler st = chart.getStyler();
        chart.getStyler().setXAxisLogarithmic(logX).setYAxisLogarithmic(logY);
        chart.getStyler().setPlotGridLinesColor(new Color(228, 228, 228));
        st.setChartBackgroundColor(Color.WHITE).setPlotBackgroundColor(Color.WHITE).setAntiAlias(true).setMarkerSize(8);
        st.setLegendPosition(legendBeside ? Styler.LegendPosition.OutsideE : Styler.LegendPosition.InsideNW);
        st.setChartTitleFont(new Font(Font.SANS_SERIF, Font.BOLD, 16));
        double yMin = Double.POSITIVE_INFINITY;
        double yMax = Double.NEGATIVE_INFINITY;
        double xMin = Double.POSITIVE_INFINITY;
        double xMax = Double.NEGATIVE_INFINITY;
        int added = 0;
        for (Series s : series) {
            List<double[]> pts = points(s.x(), s.y());
            if (pts.isEmpty()) {
                continue;
            }
            double[] x = pts.stream().mapToDouble(p -> p[0]).toArray();
            double[] y = pts.stream().mapToDouble(p -> p[1]).toArray();
            for (int i = 0; i < x.length; i++) {
                xMin = Math.min(xMin, x[i]);
                xMax = Math.max(xMax, x[i]);
                yMin = Math.min(yMin, y[i]);
                yMax = Math.max(yMax, y[i]);
            }
            XYSeries xy = chart.addSeries(s.name(), x, y);
            xy.setLineColor(s.color());
            xy.setMarkerColor(s.color());
            xy.setLineStyle(s.dashed() ? SeriesLines.DASH_DASH : new BasicStroke(2f));
            xy.setMarker(switch (s.marker()) {
                case NONE -> SeriesMarkers.NONE;
                case CIRCLE -> SeriesMarkers.CIRCLE;
                case SQUARE -> SeriesMarkers.SQUARE;
                case TRIANGLE -> SeriesMarkers.TRIANGLE_UP;
                case DIAMOND -> SeriesMarkers.DIAMOND;
            });
            added++;
        }
        if (added > 0) {
            for (Rule r : rules) {
                if (Double.isFinite(r.x()) && (!logX || r.x() > 0)) {
                    xMin = Math.min(xMin, r.x());
                    xMax = Math.max(xMax, r.x());
                }
            }
            if (logX) {
                LogTicks t = logTicks(xMin, xMax, X_ALL_DECADES);
                st.setXAxisLogarithmicDecadeOnly(t == LogTicks.DECADES).setXAxisTickLabelsFormattingFunction(t::label);
            }
            if (logY) {
                LogTicks t = logTicks(yMin, yMax, 1);
                st.setYAxisLogarithmicDecadeOnly(t == LogTicks.DECADES).setYAxisTickLabelsFormattingFunction(t::label);
            }
            for (Rule r : rules) {
                if (Double.isFinite(r.x()) && (!logX || r.x() > 0)) {
                    XYSeries xy = chart.addSeries(r.name(), new double[] {r.x(), r.x()}, new double[] {yMin, yMax});
                    xy.setLineColor(r.color());
                    xy.setMarker(SeriesMarkers.NONE);
                    xy.setLineStyle(new BasicStroke(2f, BasicStroke.CAP_BUTT, BasicStroke.JOIN_MITER, 10f,
                            new float[] {8f, 6f}, 0f));
                }
            }
        } else {
            chart.addSeries("no data", new double[] {1}, new double[] {1}).setMarker(SeriesMarkers.NONE);
        }
        BufferedImage img = new BufferedImage(WIDTH, HEIGHT, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = img.createGraphics();
        try {
            g.setColor(Color.WHITE);
            g.fillRect(0, 0, WIDTH, HEIGHT);
            chart.paint(g, WIDTH, HEIGHT - CAPTION_HEIGHT);
            g.setRenderingHint(RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
            g.setColor(new Color(80, 80, 80));
            g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 12));
            g.drawString(caption, 12, HEIGHT - 9);
        } finally {
            g.dispose();
        }
        return img;
    }

    /** Which ticks of a log axis carry a label: powers of ten, 1, 2 and 5 times them, or all (1 to 9 times). */
    enum LogTicks {
        DECADES(1), ONE_TWO_FIVE(1, 2, 5), ALL(1, 2, 3, 4, 5, 6, 7, 8, 9);

        private final int[] mantissas;

        LogTicks(int... mantissas) {
            this.mantissas = mantissas;
        }

        /** The label of the tick at {@code v} (m · 10^e): digits from 0.001 to 999,999, else mEe; "" if unlabeled. */
        String label(double v) {
            if (!(v > 0) || !Double.isFinite(v)) {
                return "";
            }
            BigDecimal d = new BigDecimal(v).round(new MathContext(2));
            int e = d.precision() - d.scale() - 1; // the decimal exponent of d's leading digit
            BigDecimal m = d.movePointLeft(e).stripTrailingZeros();
            if (m.scale() > 0 || java.util.Arrays.stream(mantissas).noneMatch(k -> k == m.intValue())) {
                return ""; // not a tick of this axis's kind (or between ticks)
            }
            return e >= -3 && e <= 5 ? d.stripTrailingZeros().toPlainString() : m.intValue() + "E" + e;
        }
    }

    /** The widest span (decades) of an x axis with every tick labeled: labels side by side are wider than tall. */
    static final double X_ALL_DECADES = 0.5;

    /**
     * The labels that fit on a log axis from {@code min} to {@code max} (both positive): every tick up to
     * {@code allDecades} decades, 1, 2 and 5 up to two decades, powers of ten beyond.
     */
    static LogTicks logTicks(double min, double max, double allDecades) {
        double decades = Math.log10(max / min);
        return decades >= 2 ? LogTicks.DECADES : decades > allDecades ? LogTicks.ONE_TWO_FIVE : LogTicks.ALL;
    }

    /** The points an axis of this chart can show, in order. */
    List<double[]> points(double[] x, double[] y) {
        List<double[]> pts = new ArrayList<>();
        for (int i = 0; i < x.length; i++) {
            boolean ok = Double.isFinite(x[i]) && Double.isFinite(y[i]) && (!logX || x[i] > 0) && (!logY || y[i] > 0);
            if (ok) {
                pts.add(new double[] {x[i], y[i]});
            }
        }
        return pts;
    }
}
