package org.ringattention.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** experiment replot: the chart drawn from a CSV read back is the run's chart, pixel for pixel; the CSV stays. */
class ReplotCommandTest {

    @TempDir
    Path tmp;

    @Test
    void aMemoryChartRedrawnFromItsCsvIsTheRunsChart() throws IOException {
        Path out = tmp.resolve("mem");
        CliRun run = CliRun.of("experiment", "memory", "--ns", "64,128", "--devices", "1,2", "--head-dim", "8",
                "--block-q", "16", "--block-kv", "16", "--threads", "1", "--out", out.toString(), "--quiet");
        assertThat(run.code()).as(run.err()).isZero();
        BufferedImage before = ImageIO.read(out.resolve(MemoryCommand.PNG).toFile());
        byte[] csv = Files.readAllBytes(out.resolve(MemoryCommand.CSV));
        Files.delete(out.resolve(MemoryCommand.PNG));

        CliRun r = CliRun.of("experiment", "replot", out.toString());
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.out()).contains("redrew").contains(MemoryCommand.PNG);
        assertThat(samePixels(ImageIO.read(out.resolve(MemoryCommand.PNG).toFile()), before)).isTrue();
        assertThat(Files.readAllBytes(out.resolve(MemoryCommand.CSV))).isEqualTo(csv);
    }

    @Test
    void aMaxContextChartRedrawnFromItsCsvIsTheChartOfItsRows() throws IOException {
        BufferedImage png = replotted("mc", MaxContextCommand.CSV, MaxContextCommand.PNG, MaxContextCommand.CSV_HEADER,
                "16777216,vanilla,1,16777216,512,640,6,128,4\n"
                + "16777216,blockwise,1,16777216,896,1024,6,128,4\n"
                + "16777216,ring,4,67108864,2560,2688,10,128,4\n"
                + "33554432,vanilla,1,33554432,896,1024,6,128,4\n"
                + "33554432,blockwise,1,33554432,2048,2176,10,128,4\n"
                + "33554432,ring,4,134217728,5120,5376,11,128,4\n");
        List<MaxContextCommand.Row> rows = List.of(
                new MaxContextCommand.Row(16L << 20, "vanilla", 1, 16L << 20, 512, 640, 6),
                new MaxContextCommand.Row(16L << 20, "blockwise", 1, 16L << 20, 896, 1024, 6),
                new MaxContextCommand.Row(16L << 20, "ring", 4, 64L << 20, 2560, 2688, 10),
                new MaxContextCommand.Row(32L << 20, "vanilla", 1, 32L << 20, 896, 1024, 6),
                new MaxContextCommand.Row(32L << 20, "blockwise", 1, 32L << 20, 2048, 2176, 10),
                new MaxContextCommand.Row(32L << 20, "ring", 4, 128L << 20, 5120, 5376, 11));
        assertThat(samePixels(png, MaxContextCommand.chart(rows, 128, 4, 4).render())).isTrue();
        assertThat(samePixels(png, MaxContextCommand.chart(rows, 128, 4, 2).render())).as("P is in the legend")
                .isFalse();
    }

    @Test
    void anOverlapChartRedrawnFromItsCsvIsTheChartOfItsRows() throws IOException {
        BufferedImage png = replotted("ov", OverlapCommand.CSV, OverlapCommand.PNG, OverlapCommand.CSV_HEADER,
                "128,512,4,2,128,1,1.10223e+08,0.00000,131072,0.241629,1.296262,1.143835,1.336331,1.296262,"
                + "1.189151,0.1401,34.7170,39.9050,38.2416,1024,693.895\n"
                + "1024,4096,4,2,128,1,1.10223e+08,0.00000,1048576,14.038911,9.601733,0.000000,14.038911,"
                + "14.038911,9.513212,1.0000,38.2416,39.9050,38.2416,1024,693.895\n");
        List<OverlapSweep.Row> rows = List.of(
                new OverlapSweep.Row(128, 512, 0.241629, 1.296262, 1.143835, 1.336331, 0.1401, 131072, 34.7170e9),
                new OverlapSweep.Row(1024, 4096, 14.038911, 9.601733, 0, 14.038911, 1, 1048576, 38.2416e9));
        Chart expected = OverlapChart.of(rows, "Ring attention overlap: P = 4, d = 128, H = 1, B = 110.2 MB/s",
                "2 threads; F = 38.2 GFLOP/s per device at c = 1024; redrawn from overlap.csv", 693.895,
                OverlapSweep.crossing(rows));
        assertThat(samePixels(png, expected.render())).isTrue();
        assertThat(OverlapSweep.crossing(rows)).as("the measured crossing is drawn too").isBetween(128.0, 1024.0);
    }

    @Test
    void aNamespaceOverlapChartRedrawnFromItsCsvIsTheChartOfItsRows() throws IOException {
        BufferedImage png = replotted("netns", NetnsOverlapCommand.CSV, NetnsOverlapCommand.PNG,
                NetnsOverlapCommand.CSV_HEADER,
                "256,512,2,1,128,1,1.55365e+08,1.44308e+08,262144,1.115662,1.816559,2.809166,3.609467,1.816559,"
                + "1.816559,0.0000,30.0758,84.1513,1024,1166.27,false\n"
                + "2048,4096,2,1,128,1,1.55365e+08,1.44308e+08,2097152,19.5,14.6,0.2,19.7,19.5,14.5,0.9860,"
                + "85.2,84.1513,1024,1166.27,true\n");
        List<OverlapSweep.Row> rows = List.of(
                new OverlapSweep.Row(256, 512, 1.115662, 1.816559, 2.809166, 3.609467, 0, 262144, 30.0758e9),
                new OverlapSweep.Row(2048, 4096, 19.5, 14.6, 0.2, 19.7, 0.986, 2097152, 85.2e9));
        Chart expected = OverlapChart.of(rows, "Ring attention over namespaces: P = 2 ranks, d = 128, H = 1,"
                + " B = 144.3 MB/s (tbf, TCP)", "1 thread per rank; F = 84.2 GFLOP/s per rank at c = 1024; redrawn"
                + " from netns-overlap.csv", 1166.27, OverlapSweep.crossing(rows));
        assertThat(samePixels(png, expected.render())).isTrue();
    }

    @Test
    void aFolderWithoutAnExperimentsCsvIsAUsageError() throws IOException {
        Path dir = Files.createDirectories(tmp.resolve("empty"));
        CliRun r = CliRun.of("experiment", "replot", dir.toString());
        assertThat(r.code()).isEqualTo(2);
        assertThat(r.err()).contains(dir.toString()).contains(MaxContextCommand.CSV);
        assertThat(dir).isEmptyDirectory();
    }

    @Test
    void aCsvMissingAColumnIsBadDataAndLeavesNoPng() throws IOException {
        Path dir = Files.createDirectories(tmp.resolve("bad"));
        Files.writeString(dir.resolve(MaxContextCommand.CSV), "memory_bytes,method\n16777216,vanilla\n");
        CliRun r = CliRun.of("experiment", "replot", dir.toString());
        assertThat(r.code()).isEqualTo(1);
        assertThat(r.err()).contains("no column devices");
        assertThat(dir.resolve(MaxContextCommand.PNG)).doesNotExist();
    }

    /** Writes a header and rows as {@code csv} in a new folder, replots it and reads the chart drawn. */
    private BufferedImage replotted(String folder, String csv, String png, String header, String rows)
            throws IOException {
        Path dir = Files.createDirectories(tmp.resolve(folder));
        Files.writeString(dir.resolve(csv), header + "\n" + rows, StandardCharsets.UTF_8);
        CliRun r = CliRun.of("experiment", "replot", dir.toString());
        assertThat(r.code()).as(r.err()).isZero();
        return ImageIO.read(dir.resolve(png).toFile());
    }

    static boolean samePixels(BufferedImage a, BufferedImage b) {
        if (a.getWidth() != b.getWidth() || a.getHeight() != b.getHeight()) {
            return false;
        }
        for (int y = 0; y < a.getHeight(); y++) {
            for (int x = 0; x < a.getWidth(); x++) {
                if ((a.getRGB(x, y) & 0xffffff) != (b.getRGB(x, y) & 0xffffff)) {
                    return false;
                }
            }
        }
        return true;
    }
}
