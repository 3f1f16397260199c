package org.ringattention.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.awt.image.BufferedImage;
import java.nio.file.Path;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Chart: points an axis cannot show, the PNG, every series and rule drawn in its color. */
class ChartTest {

    @TempDir
    Path dir;

    @Test
    void logAxesLeaveOutPointsThatAreNotPositiveLinearOnesOnlyTheNonFinite() {
        double[] x = {1, 2, 4, 8, -1};
        double[] y = {1, 0, Double.NaN, 3, 5};
        assertThat(new Chart("t", "c", "x", "y").points(x, y)).extracting(p -> p[0]).containsExactly(1.0, 8.0);
        assertThat(new Chart("t", "c", "x", "y").axes(false, false).points(x, y)).extracting(p -> p[0])
                .containsExactly(1.0, 2.0, 8.0, -1.0);
        assertThat(new Chart("t", "c", "x", "y").axes(true, false).points(x, y)).extracting(p -> p[0])
                .containsExactly(1.0, 2.0, 8.0);
    }

    @Test
    void everySeriesAndRuleIsDrawnInItsColor() throws Exception {
        Chart chart = new Chart("title", "caption", "x", "y")
                .add(new Chart.Series("a", Chart.BLUE, false, Chart.Marker.CIRCLE, new double[] {1, 2, 4, 8},
                        new double[] {1, 0, Double.NaN, 3}))
                .add(new Chart.Series("b", Chart.GREEN, true, Chart.Marker.SQUARE, new double[] {1, 8},
                        new double[] {2, 2}))
                .add(new Chart.Rule("r", Chart.RED, 3));
        Path png = dir.resolve("c.png");
        chart.writePng(png);
        BufferedImage img = ImageIO.read(png.toFile());
        assertThat(img.getWidth()).isEqualTo(Chart.WIDTH);
        assertThat(img.getHeight()).isEqualTo(Chart.HEIGHT);
        assertThat(contains(img, Chart.BLUE.getRGB())).isTrue();
        assertThat(contains(img, Chart.GREEN.getRGB())).isTrue();
        assertThat(contains(img, Chart.RED.getRGB())).isTrue();
        assertThat(contains(img, Chart.PURPLE.getRGB())).isFalse();
        // nothing to show is still a chart, not an error
        assertThat(new Chart("t", "c", "x", "y").add(new Chart.Series("z", Chart.BLUE, false, Chart.Marker.NONE,
                new double[] {0}, new double[] {0})).render().getWidth()).isEqualTo(Chart.WIDTH);
    }

    @Test
    void logAxesLabelAsManyTicksAsFitTheirSpan() {
        assertThat(Chart.logTicks(16, 32, 0.5)).isEqualTo(Chart.LogTicks.ALL); // two budgets: 20 and 30 only
        assertThat(Chart.logTicks(2048, 16384, 0.5)).isEqualTo(Chart.LogTicks.ONE_TWO_FIVE);
        assertThat(Chart.logTicks(2048, 16384, 1)).isEqualTo(Chart.LogTicks.ALL);
        assertThat(Chart.logTicks(1, 64, 1)).isEqualTo(Chart.LogTicks.ONE_TWO_FIVE);
        assertThat(Chart.logTicks(512, 5120, 1)).isEqualTo(Chart.LogTicks.ALL);
        assertThat(Chart.logTicks(512, 5121, 1)).isEqualTo(Chart.LogTicks.ONE_TWO_FIVE);
        assertThat(Chart.logTicks(1e-7, 1e-5, 1)).isEqualTo(Chart.LogTicks.DECADES);
        assertThat(Chart.LogTicks.ALL.label(30)).isEqualTo("30");
        assertThat(Chart.LogTicks.ALL.label(0.30000000000000004)).isEqualTo("0.3");
        assertThat(Chart.LogTicks.ALL.label(700)).isEqualTo("700");
        assertThat(Chart.LogTicks.ALL.label(5000)).isEqualTo("5000");
        assertThat(Chart.LogTicks.ALL.label(25)).isEmpty(); // not a tick
        assertThat(Chart.LogTicks.ONE_TWO_FIVE.label(20_000)).isEqualTo("20000");
        assertThat(Chart.LogTicks.ONE_TWO_FIVE.label(3000)).isEmpty();
        assertThat(Chart.LogTicks.DECADES.label(1e-4)).isEqualTo("1E-4");
        assertThat(Chart.LogTicks.DECADES.label(1e9)).isEqualTo("1E9");
        assertThat(Chart.LogTicks.DECADES.label(0.001)).isEqualTo("0.001");
        assertThat(Chart.LogTicks.DECADES.label(2e6)).isEmpty();
    }

    static boolean contains(BufferedImage img, int rgb) {
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
