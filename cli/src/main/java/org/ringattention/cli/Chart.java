package org.ringattention.cli;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import javax.imageio.ImageIO;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.style.Styler;
import org.knowm.xchart.style.lines.SeriesLines;
import org.knowm.xchart.style.markers.SeriesMarkers;

/**
 * A line chart of the experiments, drawn by XChart into a PNG of {@link #WIDTH} × {@link #HEIGHT}
 * pixels without a display: series of points (x, y), vertical rules at single x values (drawn as
 * two-point series across the data's y range, so they have a legend entry), each axis linear or
 * logarithmic (log by default). A log axis cannot show a point that is not positive, and no axis
 * one that is not finite: such points are left out. A caption line under the chart says how the
 * numbers were made.
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
        Styler st = chart.getStyler();
        chart.getStyler().setXAxisLogarithmic(logX).setYAxisLogarithmic(logY);
        chart.getStyler().setPlotGridLinesColor(new Color(228, 228, 228));
        st.setChartBackgroundColor(Color.WHITE).setPlotBackgroundColor(Color.WHITE).setAntiAlias(true).setMarkerSize(8);
        st.setLegendPosition(legendBeside ? Styler.LegendPosition.OutsideE : Styler.LegendPosition.InsideNW);
        st.setChartTitleFont(new Font(Font.SANS_SERIF, Font.BOLD, 16));
        double yMin = Double.POSITIVE_INFINITY;
        double yMax = Double.NEGATIVE_INFINITY;
        int added = 0;
        for (Series s : series) {
            List<double[]> pts = points(s.x(), s.y());
            if (pts.isEmpty()) {
                continue;
            }
            double[] x = pts.stream().mapToDouble(p -> p[0]).toArray();
            double[] y = pts.stream().mapToDouble(p -> p[1]).toArray();
            for (double v : y) {
                yMin = Math.min(yMin, v);
                yMax = Math.max(yMax, v);
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
