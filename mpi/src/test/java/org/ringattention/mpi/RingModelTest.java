package org.ringattention.mpi;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Runs spin on the Promela model of the ring protocol (protocol/ring.pml, see protocol/README.md): no
 * deadlock, no buffer overwritten before use, every shard absorbed once, abort ends every device;
 * and on a broken copy, to show the check can fail. Skipped without spin or a C compiler.
 */
class RingModelTest {

    @TempDir
    Path dir;

    @BeforeAll
    static void needsSpin() {
        assumeTrue(onPath("spin") && onPath("cc"), "spin or cc not installed (apt-get install spin gcc): skipping"
                + " the model check of the ring protocol");
    }

    // hang guards, not speed limits: each check compiles and runs a verifier (seconds); room for a loaded
    // machine and a JVM stopped for a minute or two
    @Test
    @Timeout(600)
    void theProtocolHasNoDeadlockAndNoOverwrite() throws Exception {
        String model = Files.readString(model());
        for (String[] cfg : new String[][] {{"1", "1", "1"}, {"2", "0", "1"}, {"2", "1", "1"}, {"3", "0", "0"},
            {"3", "1", "0"}}) {
            String out = check(model, cfg[0], cfg[1], cfg[2]);
            assertThat(out).as("spin, P=%s backward=%s faults=%s:%n%s", cfg[0], cfg[1], cfg[2], out)
                    .contains("errors: 0").doesNotContain("assertion violated").doesNotContain("invalid end state (");
        }
    }

    @Test
    @Timeout(300)
    void aDeviceThatDoesNotWaitForItsShardIsCaught() throws Exception {
        String broken = Files.readString(model()).replace(":: arrived[PREV(i)] -> skip", ":: true -> skip");
        String out = check(broken, "3", "0", "0");
        assertThat(out).contains("assertion violated").doesNotContain("errors: 0");
    }

    private String check(String model, String p, String backward, String faults) throws Exception {
        Path pml = dir.resolve("ring.pml");
        Files.writeString(pml, model);
        run(List.of("spin", "-a", "-DP=" + p, "-DBACKWARD=" + backward, "-DFAULTS=" + faults, "ring.pml"));
        run(List.of("cc", "-O2", "-DSAFETY", "-o", "pan", "pan.c"));
        return run(List.of("./pan", "-m1000000"));
    }

    private String run(List<String> cmd) throws IOException, InterruptedException {
        Path log = dir.resolve("log.txt");
        Process pr = new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true)
                .redirectOutput(log.toFile()).start();
        if (!pr.waitFor(240, TimeUnit.SECONDS)) {
            pr.destroyForcibly();
            throw new AssertionError(cmd + " did not finish in 240 s");
        }
        return Files.readString(log, StandardCharsets.UTF_8);
    }

    private static Path model() {
        for (Path p = Path.of("").toAbsolutePath(); p != null; p = p.getParent()) {
            if (Files.isRegularFile(p.resolve("protocol/ring.pml"))) {
                return p.resolve("protocol/ring.pml");
            }
        }
        throw new IllegalStateException("no protocol/ring.pml above the working directory");
    }

    private static boolean onPath(String name) {
        for (String d : System.getenv().getOrDefault("PATH", "/usr/bin").split(File.pathSeparator)) {
            if (Files.isExecutable(Path.of(d, name))) {
                return true;
            }
        }
        return false;
    }
}
