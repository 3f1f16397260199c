package org.ringattention.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.awt.image.BufferedImage;
import org.junit.jupiter.api.Test;

/** LineChart: ticks, labels, and points a log axis cannot show. */
class LineChartTest {

    @Test
    void ticksArePowersOfTwoAndOneTwoFive() {
        assertThat(LineChart.xTicks(100, 5000)).containsExactly(128.0, 256.0, 512.0, 1024.0, 2048.0, 4096.0);
        assertThat(LineChart.xTicks(1, 1 << 30)).hasSizeLessThanOrEqualTo(12).startsWith(1.0);
        assertThat(LineChart.yTicks(0.3, 120)).containsExactly(0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0);
        assertThat(LineChart.yTicks(1e-3, 1e4)).containsExactly(1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0, 1e3, 1e4);
        assertThat(LineChart.label(0.05)).isEqualTo("0.05");
        assertThat(LineChart.label(4096)).isEqualTo("4096");
        assertThat(LineChart.label(2e-4)).isEqualTo("0.0002");
    }

    @Test
    void pointsThatAreNotPositiveAreLeftOut() {
        BufferedImage img = new LineChart("t", "s", "x", "y")
                .add(new LineChart.Series("a", LineChart.BLUE, false, LineChart.Marker.CIRCLE,
                        new double[] {1, 2, 4, 8}, new double[] {1, 0, Double.NaN, 3}))
                .add(new LineChart.Rule("r", LineChart.RED, 1e9)) // far off: drawn in the legend only
                .render();
        assertThat(img.getWidth()).isEqualTo(LineChart.WIDTH);
        assertThat(img.getHeight()).isEqualTo(LineChart.HEIGHT);
    }
}
