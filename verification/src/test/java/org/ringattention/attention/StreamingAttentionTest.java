package org.ringattention.attention;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.ringattention.kernel.Kernels;
import org.ringattention.tensor.Tensor;

/**
 * Streaming attention (query chunks against key/value chunks) gives the bits of blockwise
 * attention with the same block sizes, whatever the chunk sizes, masks, tails and storage, and
 * a run resumed at a chunk gives the bits of an uninterrupted one; so does its backward pass
 * (dQ, dK, dV), GQA included.
 */
class StreamingAttentionTest {

    static Stream<Arguments> cases() {
        AttentionSpec causal = AttentionSpec.DEFAULT.withCausal(true);
        return Stream.of(
                // shape, spec, blockQ, blockKv, chunkQ, chunkKv, threads
                Arguments.of(new AttentionShape(1, 1, 1, 1025, 1025, 64), causal, 64, 64, 192, 256, 2),
                Arguments.of(new AttentionShape(1, 2, 1, 97, 97, 59), AttentionSpec.DEFAULT, 16, 32, 32, 128, 1),
                Arguments.of(new AttentionShape(2, 4, 2, 300, 520, 11), causal, 7, 5, 21, 640, 3),
                Arguments.of(new AttentionShape(1, 2, 2, 700, 700, 111), AttentionSpec.DEFAULT.withWindow(90), 32, 64,
                        64, 128, 2),
                Arguments.of(new AttentionShape(1, 2, 2, 1, 1, 8), causal, 128, 128, 128, 128, 1),
                Arguments.of(new AttentionShape(1, 1, 1, 500, 300, 16), causal, 40, 300, 80, 38400, 2), // chunk > N
                Arguments.of(new AttentionShape(2, 2, 1, 400, 400, 16),
                        causal.withSinks(Problem.sinks(2, 3, 0)).withSoftcap(5), 32, 32, 96, 128, 2),
                Arguments.of(new AttentionShape(2, 2, 2, 333, 333, 24),
                        AttentionSpec.DEFAULT.withSegments(Problem.segments(2, 333, 5, true)), 16, 16, 48, 256, 2),
                // rows that see no key (bottom-right causal, Nq > Nk): O = 0, LSE = -inf in both
                Arguments.of(new AttentionShape(1, 1, 1, 600, 200, 16), causal, 32, 32, 64, 128, 2));
    }

    @ParameterizedTest
    @MethodSource("cases")
    void sameBitsAsBlockwise(AttentionShape shape, AttentionSpec spec, int bq, int bkv, int cq, int ckv, int threads) {
        Problem p = Problem.random(shape, spec, shape.qLen() * 31L + bq, 1);
        AttentionOutput want = new BlockwiseAttention(Kernels.preferred(), bq, bkv, 1)
                .forward(p.qTensor(), p.kTensor(), p.vTensor(), spec);
        StreamingAttention s = new StreamingAttention(Kernels.preferred(), bq, bkv, threads, cq, ckv);
        Tensor out = Tensor.zeros(shape.batch(), shape.qHeads(), shape.qLen(), shape.dim());
        Tensor lse = Tensor.zeros(shape.batch(), shape.qHeads(), shape.qLen(), 1);
        s.forward(p.qTensor(), p.kTensor(), p.vTensor(), spec, out, lse, 0, null, null);
        assertThat(out.toArray()).as("O").isEqualTo(want.out().toArray());
        assertThat(lse.toArray()).as("LSE").isEqualTo(want.lse());
    }

    static Stream<Arguments> backwardCases() {
        AttentionSpec causal = AttentionSpec.DEFAULT.withCausal(true);
        return Stream.of(
                // shape, spec, blockQ, blockKv, chunkQ, chunkKv, threads
                Arguments.of(new AttentionShape(1, 1, 1, 1025, 1025, 64), causal, 64, 64, 128, 256, 2),
                Arguments.of(new AttentionShape(1, 1, 1, 97, 97, 59), AttentionSpec.DEFAULT, 40, 24, 640, 384, 2),
                Arguments.of(new AttentionShape(1, 4, 2, 300, 300, 59), AttentionSpec.DEFAULT, 16, 32, 128, 128, 2),
                Arguments.of(new AttentionShape(2, 4, 2, 300, 520, 11), causal, 16, 32, 128, 128, 3),
                Arguments.of(new AttentionShape(1, 2, 2, 700, 700, 111), AttentionSpec.DEFAULT.withWindow(90), 32, 64,
                        128, 128, 2),
                Arguments.of(new AttentionShape(1, 8, 2, 500, 500, 32), causal.withWindow(100), 32, 32, 128, 128, 2),
                Arguments.of(new AttentionShape(1, 2, 2, 1, 1, 8), causal, 128, 128, 128, 128, 1),
                Arguments.of(new AttentionShape(1, 1, 1, 500, 300, 16), causal, 40, 300, 640, 38400, 2), // chunk > N
                Arguments.of(new AttentionShape(2, 2, 1, 400, 400, 16),
                        causal.withSinks(Problem.sinks(2, 3, 0)).withSoftcap(5), 32, 32, 128, 128, 2),
                Arguments.of(new AttentionShape(2, 2, 2, 333, 333, 24),
                        AttentionSpec.DEFAULT.withSegments(Problem.segments(2, 333, 5, true)), 16, 16, 128, 256, 2),
                Arguments.of(new AttentionShape(1, 1, 1, 600, 200, 16), causal, 32, 32, 128, 128, 2));
    }

    @ParameterizedTest
    @MethodSource("backwardCases")
    void backwardHasTheBitsOfBlockwise(AttentionShape shape, AttentionSpec spec, int bq, int bkv, int cq, int ckv,
            int threads) {
        Problem p = Problem.random(shape, spec, shape.qLen() * 17L + bkv, 1);
        BlockwiseAttention heap = new BlockwiseAttention(Kernels.preferred(), bq, bkv, threads);
        AttentionOutput fwd = heap.forward(p.qTensor(), p.kTensor(), p.vTensor(), spec);
        Gradients want = heap.backward(p.qTensor(), p.kTensor(), p.vTensor(), fwd, p.dOutTensor(), spec);
        StreamingAttention s = new StreamingAttention(Kernels.preferred(), bq, bkv, threads, cq, ckv);
        Tensor lse = Tensor.wrap(fwd.lse().clone(), shape.batch(), shape.qHeads(), shape.qLen(), 1);
        Tensor dq = garbage(shape.batch(), shape.qHeads(), shape.qLen(), shape.dim());
        Tensor dk = garbage(shape.batch(), shape.kvHeads(), shape.kvLen(), shape.dim());
        Tensor dv = garbage(shape.batch(), shape.kvHeads(), shape.kvLen(), shape.dim());
        List<String> chunks = new ArrayList<>();
        StreamingAttention.Result r = s.backward(p.qTensor(), p.kTensor(), p.vTensor(), spec, fwd.out(), lse,
                p.dOutTensor(), dq, dk, dv, (c, n, pairs) -> chunks.add(c + "/" + n), null);
        assertThat(dq.toArray()).as("dQ").isEqualTo(want.dq().toArray());
        assertThat(dk.toArray()).as("dK").isEqualTo(want.dk().toArray());
        assertThat(dv.toArray()).as("dV").isEqualTo(want.dv().toArray());
        int passes = shape.group() * s.queryChunks(shape.qLen());
        assertThat(chunks).hasSize(passes).endsWith((passes - 1) + "/" + passes);
        assertThat(r.pairs()).as("every pass computes the pairs of its heads")
                .isEqualTo(s.plannedPairs(shape, spec, 0));
    }

    @Test
    void backwardOffHeapGivesTheSameBitsForAnyThreadCountAndKeyValueChunk() {
        AttentionShape shape = new AttentionShape(1, 4, 2, 700, 700, 24);
        AttentionSpec spec = AttentionSpec.DEFAULT.withCausal(true);
        Problem p = Problem.random(shape, spec, 3, 1);
        BlockwiseAttention heap = new BlockwiseAttention(Kernels.preferred(), 32, 64, 1);
        AttentionOutput fwd = heap.forward(p.qTensor(), p.kTensor(), p.vTensor(), spec);
        Gradients want = heap.backward(p.qTensor(), p.kTensor(), p.vTensor(), fwd, p.dOutTensor(), spec);
        for (int[] tc : new int[][] {{1, 128}, {2, 256}, {3, 640}}) {
            try (Arena arena = Arena.ofShared()) { // the workers read the segments
                Tensor lse = offHeap(arena, Tensor.wrap(fwd.lse().clone(), 1, 4, 700, 1));
                Tensor dq = offHeap(arena, Tensor.zeros(1, 4, 700, 24));
                Tensor dk = offHeap(arena, Tensor.zeros(1, 2, 700, 24));
                Tensor dv = offHeap(arena, Tensor.zeros(1, 2, 700, 24));
                new StreamingAttention(Kernels.preferred(), 32, 64, tc[0], 256, tc[1]).backward(
                        offHeap(arena, p.qTensor()), offHeap(arena, p.kTensor()), offHeap(arena, p.vTensor()), spec,
                        offHeap(arena, fwd.out()), lse, offHeap(arena, p.dOutTensor()), dq, dk, dv, null, null);
                assertThat(dq.toArray()).as("dQ, %d threads", tc[0]).isEqualTo(want.dq().toArray());
                assertThat(dk.toArray()).as("dK, %d threads", tc[0]).isEqualTo(want.dk().toArray());
                assertThat(dv.toArray()).as("dV, %d threads", tc[0]).isEqualTo(want.dv().toArray());
            }
        }
    }

    @Test
    void backwardRefusesQueryChunksThatWouldChangeTheBitsAndNamesANonFiniteGradient() {
        AttentionShape shape = new AttentionShape(1, 1, 1, 300, 300, 8);
        Problem p = Problem.random(shape, AttentionSpec.DEFAULT, 1, 1);
        AttentionOutput fwd = p.blockwise(32, 32);
        Tensor lse = Tensor.wrap(fwd.lse().clone(), 1, 1, 300, 1);
        Tensor dOut = p.dOutTensor();
        Tensor z = Tensor.zeros(1, 1, 300, 8);
        assertThatThrownBy(() -> new StreamingAttention(Kernels.preferred(), 32, 32, 1, 96, 128).backward(
                p.qTensor(), p.kTensor(), p.vTensor(), p.spec(), fwd.out(), lse, dOut, z, z, z, null, null))
                .hasMessageContaining("multiple of 128");
        dOut.set(0, 0, 260, 5, Float.POSITIVE_INFINITY);
        assertThatThrownBy(() -> new StreamingAttention(Kernels.preferred(), 32, 32, 2, 128, 128).backward(
                p.qTensor(), p.kTensor(), p.vTensor(), p.spec(), fwd.out(), lse, dOut, Tensor.zeros(1, 1, 300, 8),
                Tensor.zeros(1, 1, 300, 8), Tensor.zeros(1, 1, 300, 8), null, null))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("dO contains")
                .hasMessageContaining("[0, 0, 260, 5]");
    }

    /** A tensor of nonzero values: the backward pass must overwrite every element of its outputs. */
    private static Tensor garbage(int b, int h, int n, int d) {
        float[] a = new float[b * h * n * d];
        java.util.Arrays.fill(a, 7.25f);
        return Tensor.wrap(a, b, h, n, d);
    }

    @Test
    void offHeapInputsAndOutputsAndResumeGiveTheSameBits() {
        AttentionShape shape = new AttentionShape(1, 2, 1, 1000, 1000, 32);
        AttentionSpec spec = AttentionSpec.DEFAULT.withCausal(true);
        Problem p = Problem.random(shape, spec, 11, 1);
        AttentionOutput want = new BlockwiseAttention(Kernels.preferred(), 64, 64, 1)
                .forward(p.qTensor(), p.kTensor(), p.vTensor(), spec);
        StreamingAttention s = new StreamingAttention(Kernels.preferred(), 64, 64, 2, 128, 256);
        try (Arena arena = Arena.ofConfined()) {
            Tensor q = offHeap(arena, p.qTensor());
            Tensor k = offHeap(arena, p.kTensor());
            Tensor v = offHeap(arena, p.vTensor());
            Tensor out = offHeap(arena, Tensor.zeros(1, 2, 1000, 32));
            Tensor lse = offHeap(arena, Tensor.zeros(1, 2, 1000, 1));
            AtomicInteger done = new AtomicInteger();
            List<Integer> chunks = new ArrayList<>();
            // stop after three chunks, then garble the rows of the unfinished ones and resume
            assertThatThrownBy(() -> s.forward(q, k, v, spec, out, lse, 0, (c, n, pairs) -> {
                chunks.add(c);
                done.incrementAndGet();
            }, () -> done.get() >= 3)).isInstanceOf(StreamingAttention.Stopped.class);
            assertThat(chunks).containsExactly(0, 1, 2);
            for (int i = 3 * 128; i < 1000; i++) {
                out.set(0, 1, i, 5, 42f);
                lse.set(0, 0, i, 0, 42f);
            }
            StreamingAttention.Result r = s.forward(q, k, v, spec, out, lse, 3, null, null);
            assertThat(r.chunksRun()).isEqualTo(s.queryChunks(1000) - 3);
            assertThat(out.toArray()).isEqualTo(want.out().toArray());
            assertThat(lse.toArray()).isEqualTo(want.lse());
        }
    }

    @Test
    void aStopIsSeenBetweenTilesAndLeavesTheChunkUnderWayUnwritten() {
        // one query chunk against one key/value chunk, 16 key blocks: a task is 16 tiles
        AttentionShape shape = new AttentionShape(1, 1, 1, 1024, 1024, 16);
        Problem p = Problem.random(shape, AttentionSpec.DEFAULT, 5, 1);
        StreamingAttention s = new StreamingAttention(Kernels.preferred(), 64, 64, 1, 1024, 1024);
        AtomicInteger asks = new AtomicInteger();
        Tensor out = Tensor.zeros(1, 1, 1024, 16);
        StreamingAttention.Result whole = s.forward(p.qTensor(), p.kTensor(), p.vTensor(), p.spec(), out, null, 0,
                null, () -> asks.incrementAndGet() < 0);
        assertThat(whole.tilesComputed()).isEqualTo(16 * 16);
        assertThat(asks.get()).as("asked before every tile").isGreaterThanOrEqualTo(16 * 16);

        // stop at the 8th tile of the first task: after the load (1 + 2 x 16 blocks of K and V)
        int stopAt = 1 + 2 * 16 + 8;
        asks.set(0);
        List<String> heard = new ArrayList<>();
        Tensor stopped = Tensor.zeros(1, 1, 1024, 16);
        assertThatThrownBy(() -> s.forward(p.qTensor(), p.kTensor(), p.vTensor(), p.spec(), stopped, null, 0,
                new StreamingAttention.Listener() {
                    @Override
                    public void chunkDone(int chunk, int chunks, long pairs) {
                        heard.add("chunk " + chunk);
                    }

                    @Override
                    public void pairsDone(long pairs) {
                        heard.add("task of " + pairs + " pairs");
                    }
                }, () -> asks.incrementAndGet() >= stopAt)).isInstanceOf(StreamingAttention.Stopped.class);
        assertThat(asks.get()).isEqualTo(stopAt);
        assertThat(heard).as("no task finished, no chunk written").isEmpty();
        assertThat(stopped.toArray()).isEqualTo(new float[1024 * 16]);
        s.forward(p.qTensor(), p.kTensor(), p.vTensor(), p.spec(), stopped, null, 0, null, null);
        assertThat(stopped.toArray()).isEqualTo(out.toArray());
    }

    @Test
    void causalRunsLoadOnlyTheChunksAtOrBelowTheDiagonal() {
        AttentionShape shape = new AttentionShape(1, 1, 1, 1024, 1024, 8);
        StreamingAttention s = new StreamingAttention(Kernels.preferred(), 64, 64, 1, 256, 256);
        int[][] vis = s.visibleChunks(shape, AttentionSpec.DEFAULT.withCausal(true));
        assertThat(vis).isDeepEqualTo(new int[][] {{0}, {0, 1}, {0, 1, 2}, {0, 1, 2, 3}});
        Problem p = Problem.random(shape, AttentionSpec.DEFAULT.withCausal(true), 1, 1);
        Tensor out = Tensor.zeros(1, 1, 1024, 8);
        StreamingAttention.Result r = s.forward(p.qTensor(), p.kTensor(), p.vTensor(), p.spec(), out, null, 0, null,
                null);
        assertThat(r.kvChunksLoaded()).isEqualTo(1 + 1 + 3 + 4); // chunk 0 stays loaded from the first to the second
    }

    @Test
    void chunkSizesThatWouldChangeTheBitsAreRefused() {
        assertThatThrownBy(() -> new StreamingAttention(Kernels.preferred(), 64, 64, 1, 100, 256))
                .hasMessageContaining("multiple of the query block");
        assertThatThrownBy(() -> new StreamingAttention(Kernels.preferred(), 64, 96, 1, 128, 192))
                .hasMessageContaining("multiple of 384");
    }

    @Test
    void aNonFiniteKeyIsNamed() {
        AttentionShape shape = new AttentionShape(1, 1, 1, 300, 300, 8);
        Problem p = Problem.random(shape, AttentionSpec.DEFAULT, 1, 1);
        Tensor k = p.kTensor();
        k.set(0, 0, 290, 3, Float.NaN);
        StreamingAttention s = new StreamingAttention(Kernels.preferred(), 32, 32, 2, 128, 128);
        assertThatThrownBy(() -> s.forward(p.qTensor(), k, p.vTensor(), p.spec(), Tensor.zeros(1, 1, 300, 8), null, 0,
                null, null)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("k contains")
                .hasMessageContaining("[0, 0, 290, 3]");
    }

    private static Tensor offHeap(Arena arena, Tensor t) {
        float[] a = t.toArray();
        MemorySegment seg = arena.allocate((long) a.length * Float.BYTES, 4);
        Tensor x = Tensor.of(seg, t.batch(), t.heads(), t.rows(), t.dim());
        x.rows(0, 0, 0, 0); // views only
        for (int b = 0; b < t.batch(); b++) {
            for (int h = 0; h < t.heads(); h++) {
                x.rows(b, h, 0, t.rows()).copyFrom(a, (int) t.rowOffset(b, h, 0));
            }
        }
        return x;
    }
}
