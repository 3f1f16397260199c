package org.ringattention.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** experiment max-context: child JVMs find vanilla's quadratic limit below the blockwise and ring ones. */
class MaxContextCommandTest {

    @TempDir
    Path dir;

    @Test
    void vanillaHitsTheBudgetFirst() throws IOException {
        CliRun r = CliRun.of("experiment", "max-context", "--memory", "8m", "--max-n", "1024", "--head-dim", "8",
                "--devices", "2", "--threads", "1", "--block-q", "64", "--block-kv", "64", "--out", dir.toString());
        assertThat(r.code()).as(r.err() + r.out()).isZero();
        assertThat(r.out()).contains("Maximum context").contains("ring (P = 2)");
        List<String> lines = Files.readAllLines(dir.resolve(MaxContextCommand.CSV));
        assertThat(lines.get(0)).isEqualTo(MaxContextCommand.CSV_HEADER);
        assertThat(lines).hasSize(4);
        String[] vanilla = lines.get(1).split(",");
        String[] blockwise = lines.get(2).split(",");
        String[] ring = lines.get(3).split(",");
        assertThat(vanilla[1]).isEqualTo("vanilla");
        // 8 MiB holds the 8-byte N x N scores of N = 1024 only just not: vanilla stops below the cap ...
        int vanillaN = Integer.parseInt(vanilla[4]);
        assertThat(vanillaN).isBetween(128, 1023);
        assertThat(Integer.parseInt(vanilla[5])).as("first failing N").isGreaterThan(vanillaN);
        // ... while blockwise and the ring (2 devices, 16 MiB) run the whole cap
        assertThat(blockwise[4]).isEqualTo("1024");
        assertThat(blockwise[5]).isEqualTo("-1");
        assertThat(ring[2]).isEqualTo("2");
        assertThat(ring[4]).isEqualTo("1024");
        assertThat(Files.size(dir.resolve(MaxContextCommand.PNG))).isPositive();
    }
}
