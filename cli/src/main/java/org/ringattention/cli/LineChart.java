package org.ringattention.cli;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.FontMetrics;
import java.awt.Graphics2D;
import java.awt.Rectangle;
import java.awt.RenderingHints;
import java.awt.Shape;
import java.awt.Stroke;
import java.awt.geom.AffineTransform;
import java.awt.geom.Ellipse2D;
import java.awt.geom.Line2D;
import java.awt.geom.Path2D;
import java.awt.geom.Rectangle2D;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.math.BigDecimal;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import javax.imageio.ImageIO;

/**
 * A log-log line chart drawn with Java2D into a PNG, without a display: x on a log₂ axis with
 * ticks at powers of two, y on a log₁₀ axis with ticks at 1, 2, 5 × 10ᵏ (decades only when the
 * range spans more than four). Points that are not finite and positive are left out (the line
 * breaks there). Vertical rules mark single x values; the legend goes in the plot corner that
 * covers the fewest data.
 */
final class LineChart {

    static {
        System.setProperty("java.awt.headless", "true"); // before any AWT class asks for a display
    }

    static final int WIDTH = 1000;
    static final int HEIGHT = 640;

    private static final int LEFT = 80;
    private static final int RIGHT = 24;
    private static final int TOP = 72;
    private static final int BOTTOM = 60;
    private static final Color GRID = new Color(228, 228, 228);
    private static final Color INK = new Color(40, 40, 40);

    // A palette (matplotlib's first colors), here so that AWT is headless before any Color exists.
    static final Color BLUE = new Color(31, 119, 180);
    static final Color ORANGE = new Color(255, 127, 14);
    static final Color GREEN = new Color(44, 160, 44);
    static final Color RED = new Color(214, 39, 40);
    static final Color PURPLE = new Color(148, 103, 189);
    static final Color BLACK = new Color(20, 20, 20);

    enum Marker { NONE, CIRCLE, SQUARE, TRIANGLE }

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
    private final String subtitle;
    private final String xLabel;
    private final String yLabel;
    private final List<Series> series = new ArrayList<>();
    private final List<Rule> rules = new ArrayList<>();

    LineChart(String title, String subtitle, String xLabel, String yLabel) {
        this.title = title;
        this.subtitle = subtitle;
        this.xLabel = xLabel;
        this.yLabel = yLabel;
    }

    LineChart add(Series s) {
        series.add(s);
        return this;
    }

    LineChart add(Rule r) {
        rules.add(r);
        return this;
    }

    /** Writes the chart as a PNG of {@link #WIDTH} × {@link #HEIGHT} pixels. */
    void writePng(Path target) throws IOException {
        if (!ImageIO.write(render(), "png", target.toFile())) {
            throw new IOException("no PNG writer in this Java runtime");
        }
        if (!Files.isRegularFile(target)) {
            throw new IOException(target + ": the PNG was not written");
        }
    }

    BufferedImage render() {
        BufferedImage img = new BufferedImage(WIDTH, HEIGHT, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = img.createGraphics();
        try {
            g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
            g.setRenderingHint(RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
            g.setColor(Color.WHITE);
            g.fillRect(0, 0, WIDTH, HEIGHT);
            Axes axes = axes();
            drawFrame(g, axes);
            Rectangle plot = plotArea();
            Shape clip = g.getClip();
            g.clip(plot);
            for (Rule r : rules) {
                if (axes.containsX(r.x())) {
                    g.setColor(r.color());
                    g.setStroke(dashed(2f, 8f));
                    double px = axes.px(r.x());
                    g.draw(new Line2D.Double(px, plot.y, px, plot.y + plot.height));
                }
            }
            for (Series s : series) {
                drawSeries(g, axes, s);
            }
            g.setClip(clip);
            drawLegend(g, axes);
        } finally {
            g.dispose();
        }
        return img;
    }

    // ---------------------------------------------------------------- axes

    /** Log ranges of the plot and the mapping to pixels. */
    private record Axes(double x0, double x1, double y0, double y1, Rectangle plot) {
        double px(double x) {
            return plot.x + (Math.log(x) - Math.log(x0)) / (Math.log(x1) - Math.log(x0)) * plot.width;
        }

        double py(double y) {
            return plot.y + plot.height - (Math.log(y) - Math.log(y0)) / (Math.log(y1) - Math.log(y0)) * plot.height;
        }

        boolean containsX(double x) {
            return x >= x0 && x <= x1;
        }
    }

    private Rectangle plotArea() {
        return new Rectangle(LEFT, TOP, WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM);
    }

    private Axes axes() {
        double[] xr = {Double.POSITIVE_INFINITY, Double.NEGATIVE_INFINITY};
        double[] yr = {Double.POSITIVE_INFINITY, Double.NEGATIVE_INFINITY};
        for (Series s : series) {
            for (int i = 0; i < s.x().length; i++) {
                if (valid(s.x()[i]) && valid(s.y()[i])) {
                    widen(xr, s.x()[i]);
                    widen(yr, s.y()[i]);
                }
            }
        }
        if (!(xr[0] <= xr[1])) {
            xr = new double[] {1, 2};
            yr = new double[] {1, 10};
        }
        // a rule a little outside the data still shows; one far outside would squash the data
        for (Rule r : rules) {
            if (valid(r.x()) && r.x() >= xr[0] / 4 && r.x() <= xr[1] * 4) {
                widen(xr, r.x());
            }
        }
        double xPad = xr[1] > xr[0] ? Math.pow(xr[1] / xr[0], 0.04) : 2;
        double yPad = yr[1] > yr[0] ? Math.pow(yr[1] / yr[0], 0.06) : 2;
        return new Axes(xr[0] / xPad, xr[1] * xPad, yr[0] / yPad, yr[1] * yPad, plotArea());
    }

    private static boolean valid(double v) {
        return v > 0 && Double.isFinite(v);
    }

    private static void widen(double[] range, double v) {
        range[0] = Math.min(range[0], v);
        range[1] = Math.max(range[1], v);
    }

    /** Powers of two within the range, every k-th one so that at most 12 remain. */
    static List<Double> xTicks(double x0, double x1) {
        int lo = (int) Math.ceil(Math.log(x0) / Math.log(2) - 1e-9);
        int hi = (int) Math.floor(Math.log(x1) / Math.log(2) + 1e-9);
        int every = Math.max(1, (int) Math.ceil((hi - lo + 1) / 12.0));
        List<Double> ticks = new ArrayList<>();
        for (int e = lo; e <= hi; e += every) {
            ticks.add(Math.pow(2, e));
        }
        return ticks;
    }

    /** 1, 2, 5 × 10ᵏ within the range (only 10ᵏ when it spans more than four decades). */
    static List<Double> yTicks(double y0, double y1) {
        int lo = (int) Math.floor(Math.log10(y0));
        int hi = (int) Math.ceil(Math.log10(y1));
        int[] mantissas = hi - lo > 4 ? new int[] {1} : new int[] {1, 2, 5};
        List<Double> ticks = new ArrayList<>();
        for (int e = lo; e <= hi; e++) {
            for (int m : mantissas) {
                double t = new BigDecimal(m).scaleByPowerOfTen(e).doubleValue();
                if (t >= y0 && t <= y1) {
                    ticks.add(t);
                }
            }
        }
        return ticks;
    }

    /** A tick label without exponent or float noise: 0.05, 2, 4096. */
    static String label(double v) {
        return new BigDecimal(Double.toString(v)).round(new java.math.MathContext(6)).stripTrailingZeros()
                .toPlainString();
    }

    private void drawFrame(Graphics2D g, Axes a) {
        Rectangle p = a.plot();
        Font small = new Font(Font.SANS_SERIF, Font.PLAIN, 12);
        g.setFont(small);
        FontMetrics fm = g.getFontMetrics();
        g.setStroke(new BasicStroke(1f));
        for (double t : xTicks(a.x0(), a.x1())) {
            double px = a.px(t);
            g.setColor(GRID);
            g.draw(new Line2D.Double(px, p.y, px, p.y + p.height));
            g.setColor(INK);
            String s = label(t);
            g.drawString(s, (float) (px - fm.stringWidth(s) / 2.0), p.y + p.height + fm.getAscent() + 6);
        }
        for (double t : yTicks(a.y0(), a.y1())) {
            double py = a.py(t);
            g.setColor(GRID);
            g.draw(new Line2D.Double(p.x, py, p.x + p.width, py));
            g.setColor(INK);
            String s = label(t);
            g.drawString(s, p.x - fm.stringWidth(s) - 6, (float) (py + fm.getAscent() / 2.0 - 1));
        }
        g.setColor(Color.GRAY);
        g.draw(p);

        g.setColor(INK);
        Font axisFont = new Font(Font.SANS_SERIF, Font.PLAIN, 14);
        g.setFont(axisFont);
        fm = g.getFontMetrics();
        g.drawString(xLabel, p.x + (p.width - fm.stringWidth(xLabel)) / 2f, HEIGHT - 14);
        AffineTransform saved = g.getTransform();
        g.rotate(-Math.PI / 2);
        g.drawString(yLabel, -(p.y + (p.height + fm.stringWidth(yLabel)) / 2f), 20f);
        g.setTransform(saved);

        g.setFont(new Font(Font.SANS_SERIF, Font.BOLD, 17));
        fm = g.getFontMetrics();
        g.drawString(title, (WIDTH - fm.stringWidth(title)) / 2f, 28);
        g.setFont(small);
        fm = g.getFontMetrics();
        g.setColor(Color.DARK_GRAY);
        g.drawString(subtitle, (WIDTH - fm.stringWidth(subtitle)) / 2f, 50);
    }

    // ---------------------------------------------------------------- series and legend

    private void drawSeries(Graphics2D g, Axes a, Series s) {
        g.setColor(s.color());
        g.setStroke(s.dashed() ? dashed(2f, 6f) : new BasicStroke(2.2f, BasicStroke.CAP_ROUND,
                BasicStroke.JOIN_ROUND));
        Path2D.Double line = new Path2D.Double();
        boolean open = false;
        for (int i = 0; i < s.x().length; i++) {
            if (!valid(s.x()[i]) || !valid(s.y()[i])) {
                open = false;
                continue;
            }
            double px = a.px(s.x()[i]);
            double py = a.py(s.y()[i]);
            if (open) {
                line.lineTo(px, py);
            } else {
                line.moveTo(px, py);
                open = true;
            }
        }
        g.draw(line);
        g.setStroke(new BasicStroke(1.5f));
        for (int i = 0; i < s.x().length; i++) {
            if (valid(s.x()[i]) && valid(s.y()[i])) {
                drawMarker(g, s.marker(), a.px(s.x()[i]), a.py(s.y()[i]));
            }
        }
    }

    private static void drawMarker(Graphics2D g, Marker m, double x, double y) {
        double r = 4.5;
        Shape shape = switch (m) {
            case NONE -> null;
            case CIRCLE -> new Ellipse2D.Double(x - r, y - r, 2 * r, 2 * r);
            case SQUARE -> new Rectangle2D.Double(x - r + 0.5, y - r + 0.5, 2 * r - 1, 2 * r - 1);
            case TRIANGLE -> {
                Path2D.Double t = new Path2D.Double();
                t.moveTo(x, y - r - 0.5);
                t.lineTo(x + r, y + r - 0.5);
                t.lineTo(x - r, y + r - 0.5);
                t.closePath();
                yield t;
            }
        };
        if (shape != null) {
            g.fill(shape);
        }
    }

    private void drawLegend(Graphics2D g, Axes a) {
        g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 13));
        FontMetrics fm = g.getFontMetrics();
        int rowH = fm.getHeight() + 4;
        int textW = 0;
        for (Series s : series) {
            textW = Math.max(textW, fm.stringWidth(s.name()));
        }
        for (Rule r : rules) {
            textW = Math.max(textW, fm.stringWidth(r.name()));
        }
        int w = 16 + 36 + 8 + textW + 12;
        int h = 10 + rowH * (series.size() + rules.size());
        Rectangle box = legendBox(a, w, h);
        g.setColor(new Color(255, 255, 255, 225));
        g.fill(box);
        g.setColor(Color.LIGHT_GRAY);
        g.setStroke(new BasicStroke(1f));
        g.draw(box);
        int y = box.y + 5 + rowH / 2;
        int x = box.x + 12;
        for (Series s : series) {
            g.setColor(s.color());
            g.setStroke(s.dashed() ? dashed(2f, 6f) : new BasicStroke(2.2f));
            g.draw(new Line2D.Double(x, y, x + 36, y));
            drawMarker(g, s.marker(), x + 18, y);
            g.setColor(INK);
            g.drawString(s.name(), x + 44, y + fm.getAscent() / 2f - 1);
            y += rowH;
        }
        for (Rule r : rules) {
            g.setColor(r.color());
            g.setStroke(dashed(2f, 4f));
            g.draw(new Line2D.Double(x + 18, y - rowH / 2.0 + 1, x + 18, y + rowH / 2.0 - 1));
            g.setColor(INK);
            g.drawString(r.name() + (valid(r.x()) && !a.containsX(r.x()) ? " (off the chart)" : ""), x + 44,
                    y + fm.getAscent() / 2f - 1);
            y += rowH;
        }
    }

    /** The plot corner whose box covers the fewest points of the series' lines. */
    private Rectangle legendBox(Axes a, int w, int h) {
        Rectangle p = a.plot();
        int m = 10;
        Rectangle[] corners = {
            new Rectangle(p.x + m, p.y + m, w, h),
            new Rectangle(p.x + p.width - w - m, p.y + m, w, h),
            new Rectangle(p.x + m, p.y + p.height - h - m, w, h),
            new Rectangle(p.x + p.width - w - m, p.y + p.height - h - m, w, h)};
        Rectangle best = corners[0];
        int fewest = Integer.MAX_VALUE;
        for (Rectangle c : corners) {
            int covered = covered(a, c);
            if (covered < fewest) {
                fewest = covered;
                best = c;
            }
        }
        return best;
    }

    /** Points sampled along every series' segments that fall inside {@code box}. */
    private int covered(Axes a, Rectangle box) {
        int count = 0;
        for (Series s : series) {
            for (int i = 0; i + 1 < s.x().length; i++) {
                if (!valid(s.x()[i]) || !valid(s.y()[i]) || !valid(s.x()[i + 1]) || !valid(s.y()[i + 1])) {
                    continue;
                }
                double x0 = a.px(s.x()[i]);
                double y0 = a.py(s.y()[i]);
                double x1 = a.px(s.x()[i + 1]);
                double y1 = a.py(s.y()[i + 1]);
                for (int k = 0; k <= 32; k++) {
                    double t = k / 32.0;
                    if (box.contains(x0 + t * (x1 - x0), y0 + t * (y1 - y0))) {
                        count++;
                    }
                }
            }
        }
        return count;
    }

    private static Stroke dashed(float width, float dash) {
        return new BasicStroke(width, BasicStroke.CAP_BUTT, BasicStroke.JOIN_MITER, 10f, new float[] {dash, dash * 0.7f},
                0f);
    }
}
