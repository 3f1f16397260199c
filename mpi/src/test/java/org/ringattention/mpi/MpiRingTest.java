package org.ringattention.mpi;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.DataInputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.ringattention.attention.AttentionOutput;
import org.ringattention.attention.Gradients;
import org.ringattention.attention.Positions;
import org.ringattention.ring.Layout;
import org.ringattention.ring.RingAttention;
import org.ringattention.tensor.Tensor;

/**
 * Under mpirun, P = 1..4 ranks of one device each give the same bits as the in-process ring with
 * the same P, layout and block sizes: O and LSE, and dQ, dK, dV; over shared memory and over TCP;
 * every mask (full, causal, window, segments), every layout, GQA and MQA, lengths P does not divide,
 * blocks that do not divide the shards. Skipped when Open MPI is not installed.
 */
class MpiRingTest {

    @TempDir
    Path dir;

    @BeforeAll
    static void needsMpi() {
        MpiRun.assumeMpi();
    }

    @Test
    @Timeout(300)
    void oneRankIsTheInProcessRingOfOne() throws Exception {
        check(1, "vader", List.of(
                new RingCase(1, 2, 1, 37, 8, true, 0, false, Layout.ZIGZAG, 8, 16, true, 1)));
    }

    @Test
    @Timeout(300)
    void twoRanksOverSharedMemory() throws Exception {
        check(2, "vader", List.of(
                new RingCase(1, 2, 2, 64, 16, false, 0, false, Layout.CONTIGUOUS, 16, 16, false, 2),
                new RingCase(2, 4, 2, 97, 11, true, 0, false, Layout.ZIGZAG, 16, 8, true, 3),
                new RingCase(1, 3, 1, 50, 8, false, 9, false, Layout.STRIPED, 7, 5, true, 4)));
    }

    @Test
    @Timeout(300)
    void threeRanks() throws Exception {
        check(3, "vader", List.of(
                new RingCase(1, 2, 1, 61, 8, true, 0, true, Layout.ZIGZAG, 8, 8, true, 5),
                new RingCase(1, 2, 2, 40, 8, true, 7, false, Layout.CONTIGUOUS, 32, 64, true, 6)));
    }

    @Test
    @Timeout(300)
    void fourRanksOverTcp() throws Exception {
        check(4, "tcp", List.of(
                new RingCase(2, 2, 1, 45, 8, false, 0, true, Layout.STRIPED, 4, 8, true, 7),
                new RingCase(1, 4, 2, 33, 5, true, 0, false, Layout.ZIGZAG, 8, 8, true, 8)));
    }

    private void check(int ranks, String btl, List<RingCase> cases) throws Exception {
        List<String> args = new ArrayList<>(List.of(dir.toString(), "2"));
        cases.forEach(c -> args.add(c.token()));
        MpiRun.Result r = MpiRun.run(ranks, btl, MpiRun.GUARD_SECONDS, List.of(), RankMain.class, args);
        assertThat(r.exitCode()).as("mpirun exit code; output:%n%s", r.output()).isZero();
        for (int c = 0; c < cases.size(); c++) {
            RingCase rc = cases.get(c);
            RingAttention ring = rc.ring(ranks, 1);
            AttentionOutput o;
            Gradients g = null;
            if (rc.backward()) {
                RingAttention.Backward b = ring.backward(rc.q(), rc.k(), rc.v(), rc.dOut(), rc.spec());
                o = b.output();
                g = b.gradients();
            } else {
                o = ring.forward(rc.q(), rc.k(), rc.v(), rc.spec()).output();
            }
            Positions[] qPos = rc.layout().split(rc.n(), ranks);
            Positions[] kPos = rc.layout().split(rc.n(), ranks);
            for (int rank = 0; rank < ranks; rank++) {
                String what = "case " + rc.token() + " rank " + rank + " of " + ranks + " over " + btl;
                try (DataInputStream in = new DataInputStream(new java.io.BufferedInputStream(
                        Files.newInputStream(dir.resolve(c + "-rank" + rank + ".bin"))))) {
                    assertThat(read(in, rows(o.out(), qPos[rank]).length)).as("O, " + what)
                            .isEqualTo(rows(o.out(), qPos[rank]));
                    assertThat(read(in, rc.batch() * rc.qHeads() * qPos[rank].length())).as("LSE, " + what)
                            .isEqualTo(lseRows(o.lse(), rc.batch() * rc.qHeads(), rc.n(), qPos[rank]));
                    if (g != null) {
                        assertThat(read(in, rows(g.dq(), qPos[rank]).length)).as("dQ, " + what)
                                .isEqualTo(rows(g.dq(), qPos[rank]));
                        assertThat(read(in, rows(g.dk(), kPos[rank]).length)).as("dK, " + what)
                                .isEqualTo(rows(g.dk(), kPos[rank]));
                        assertThat(read(in, rows(g.dv(), kPos[rank]).length)).as("dV, " + what)
                                .isEqualTo(rows(g.dv(), kPos[rank]));
                    }
                    assertThat(in.read()).as("end of the file of " + what).isEqualTo(-1);
                }
            }
        }
    }

    /** Raw float bits of the rows of x [B, H, N, d] at {@code at}, as [B, H, n, d]. */
    private static int[] rows(Tensor x, Positions at) {
        int[] bits = new int[x.batch() * x.heads() * at.length() * x.dim()];
        int i = 0;
        for (int b = 0; b < x.batch(); b++) {
            for (int h = 0; h < x.heads(); h++) {
                for (int r = 0; r < at.length(); r++) {
                    for (int k = 0; k < x.dim(); k++) {
                        bits[i++] = Float.floatToRawIntBits(x.get(b, h, at.at(r), k));
                    }
                }
            }
        }
        return bits;
    }

    private static int[] lseRows(float[] lse, int heads, int n, Positions at) {
        int[] bits = new int[heads * at.length()];
        for (int bh = 0; bh < heads; bh++) {
            for (int r = 0; r < at.length(); r++) {
                bits[bh * at.length() + r] = Float.floatToRawIntBits(lse[bh * n + at.at(r)]);
            }
        }
        return bits;
    }

    private static int[] read(DataInputStream in, int count) throws IOException {
        int[] bits = new int[count];
        for (int i = 0; i < count; i++) {
            bits[i] = in.readInt();
        }
        return bits;
    }
}
