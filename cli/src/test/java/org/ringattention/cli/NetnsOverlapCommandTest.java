package org.ringattention.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * experiment netns-overlap where it cannot run: namespaces refused, Open MPI missing, bad options.
 * Each stops before anything is made, with exit code 3 (2 for usage) and one line. The real run
 * needs root and takes minutes: scripts/netns-overlap.sh.
 */
class NetnsOverlapCommandTest {

    @TempDir
    Path tmp;

    @Test
    void refusedNamespacesAreSaidAndNothingRuns() throws IOException {
        // an ip that fails as it does without CAP_SYS_ADMIN
        Path ip = script("ip", "echo 'mount --make-shared /run/netns failed: Operation not permitted' >&2\nexit 1\n");
        Path out = tmp.resolve("out");
        CliRun r = CliRun.of("experiment", "netns-overlap", "--ip", ip.toString(), "--out", out.toString());
        r.assertOneLineError(NetnsOverlapCommand.NOT_PERMITTED, "network namespaces are not permitted here",
                "Operation not permitted", "nothing was run");
        assertThat(out).doesNotExist();
    }

    @Test
    void aMissingIpCommandIsSaid() {
        CliRun r = CliRun.of("experiment", "netns-overlap", "--ip", tmp.resolve("no-such-ip").toString(), "--out",
                tmp.resolve("out").toString());
        r.assertOneLineError(NetnsOverlapCommand.NOT_PERMITTED, "network namespaces are not permitted here",
                "no-such-ip");
    }

    @Test
    void missingOpenMpiIsSaidAfterTheNamespacesProbe() throws IOException {
        Path log = tmp.resolve("ip.log");
        Path ip = script("ip", "echo \"$@\" >> '" + log + "'\nexit 0\n"); // namespaces allowed
        Path out = tmp.resolve("out");
        CliRun r = CliRun.of("experiment", "netns-overlap", "--ip", ip.toString(), "--mpirun",
                tmp.resolve("no-such-mpirun").toString(), "--out", out.toString());
        r.assertOneLineError(NetnsOverlapCommand.NOT_PERMITTED, "Open MPI is missing", "no-such-mpirun",
                "apt-get install openmpi-bin libopenmpi-dev");
        // the probe namespace was added and deleted, nothing else
        assertThat(Files.readAllLines(log)).hasSize(2).allMatch(l -> l.matches("netns (add|delete) ra\\d+probe"));
        assertThat(out).doesNotExist();
    }

    @Test
    void badOptionsAreUsageErrors() {
        CliRun.of("experiment", "netns-overlap", "--ranks", "1").assertOneLineError(2, "--ranks");
        CliRun.of("experiment", "netns-overlap", "--rate", "fast").assertOneLineError(2, "--rate");
        CliRun.of("experiment", "netns-overlap", "--reps", "0").assertOneLineError(2, "--reps");
    }

    private Path script(String name, String body) throws IOException {
        Path p = tmp.resolve(name);
        Files.writeString(p, "#!/bin/sh\n" + body, StandardCharsets.UTF_8);
        Files.setPosixFilePermissions(p, PosixFilePermissions.fromString("rwx------"));
        return p;
    }
}
