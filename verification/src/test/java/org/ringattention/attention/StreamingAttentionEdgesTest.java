package org.ringattention.attention;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.ringattention.kernel.Kernels;
import org.ringattention.tensor.Tensor;

/**
 * The edges of streaming attention that its bit-for-bit cases (StreamingAttentionTest) do not
 * reach: the smallest configuration, which key/value chunks a query chunk sees at the length
 * boundaries and under a keep mask per head, a resume with nothing left, what the listener hears
 * and the Result counts, where a stop is seen, and which element a NaN error names.
 */
class StreamingAttentionEdgesTest {

    private static final AttentionSpec CAUSAL = AttentionSpec.DEFAULT.withCausal(true);

    @Test
    void theSmallestConfigurationRunsWithTheBitsOfBlockwise() {
        // blocks of 1, one thread, query chunks of one block, key/value chunks of one unit
        assertThat(StreamingAttention.kvChunkUnit(1)).isEqualTo(Kernels.CHUNK);
        StreamingAttention s = new StreamingAttention(Kernels.preferred(), 1, 1, 1, 1, Kernels.CHUNK);
        AttentionShape shape = new AttentionShape(1, 1, 1, 3, 130, 4);
        Problem p = Problem.random(shape, AttentionSpec.DEFAULT, 7, 1);
        AttentionOutput want = new BlockwiseAttention(Kernels.preferred(), 1, 1, 1)
                .forward(p.qTensor(), p.kTensor(), p.vTensor(), p.spec());
        Tensor out = Tensor.zeros(1, 1, 3, 4);
        Tensor lse = Tensor.zeros(1, 1, 3, 1);
        StreamingAttention.Result r = s.forward(p.qTensor(), p.kTensor(), p.vTensor(), p.spec(), out, lse, 0, null,
                null);
        assertThat(out.toArray()).isEqualTo(want.out().toArray());
        assertThat(lse.toArray()).isEqualTo(want.lse());
        assertThat(r.chunksRun()).isEqualTo(3);
        assertThat(r.pairs()).isEqualTo(3 * 130);
        assertThatThrownBy(() -> new StreamingAttention(Kernels.preferred(), 1, 1, 1, 0, Kernels.CHUNK))
                .hasMessageContaining("query chunk (0 rows)");
        assertThatThrownBy(() -> new StreamingAttention(Kernels.preferred(), 1, 1, 0, 1, Kernels.CHUNK))
                .hasMessageContaining("got 1, 1, 0");
    }

    @Test
    void keyValueChunksAtTheLengthBoundaries() {
        StreamingAttention s = new StreamingAttention(Kernels.preferred(), 64, 128, 1, 64, 128);
        // N_k a multiple of the chunk, and one below: two chunks either way, no empty third
        assertThat(s.visibleChunks(new AttentionShape(1, 1, 1, 100, 256, 4), AttentionSpec.DEFAULT))
                .isDeepEqualTo(new int[][] {{0, 1}, {0, 1}});
        assertThat(s.visibleChunks(new AttentionShape(1, 1, 1, 100, 255, 4), AttentionSpec.DEFAULT))
                .isDeepEqualTo(new int[][] {{0, 1}, {0, 1}});

        // a short last query chunk (rows 256..259) sees keys up to 259 only, top-left causal
        StreamingAttention wide = new StreamingAttention(Kernels.preferred(), 64, 128, 1, 256, 128);
        AttentionShape shortQ = new AttentionShape(1, 1, 1, 260, 520, 4);
        AttentionSpec topLeft = CAUSAL.withCausalAlign(AttentionSpec.CausalAlign.TOP_LEFT);
        assertThat(wide.visibleChunks(shortQ, topLeft)).isDeepEqualTo(new int[][] {{0, 1}, {0, 1, 2}});
        assertSameBitsAsBlockwise(wide, shortQ, topLeft, 64, 128);

        // a short last key/value chunk (keys 256..259) is too old for rows 384.. under a left
        // window of 100; rows 384.. then see no key at all (chunk 0 alone, as the rule says)
        StreamingAttention narrow = new StreamingAttention(Kernels.preferred(), 64, 128, 2, 128, 128);
        AttentionShape shortKv = new AttentionShape(1, 1, 1, 520, 260, 4);
        AttentionSpec window = AttentionSpec.DEFAULT.withWindow(100, -1)
                .withCausalAlign(AttentionSpec.CausalAlign.TOP_LEFT);
        assertThat(narrow.visibleChunks(shortKv, window))
                .isDeepEqualTo(new int[][] {{0, 1, 2}, {0, 1, 2}, {1, 2}, {0}, {0}});
        assertSameBitsAsBlockwise(narrow, shortKv, window, 64, 128);
    }

    @Test
    void aKeepMaskPerHeadShowsAChunkToTheHeadsThatKeepIt() {
        // B = 2, Hq = 2, four key/value chunks of 128: (0, 0) keeps chunk 0, (0, 1) chunk 1,
        // (1, 0) chunk 2, (1, 1) chunk 0; chunk 3 is kept by no head
        AttentionShape shape = new AttentionShape(2, 2, 1, 128, 512, 4);
        int[] kept = {0, 1, 2, 0};
        boolean[] keep = new boolean[2 * 2 * 128 * 512];
        for (int head = 0; head < 4; head++) {
            for (int i = 0; i < 128; i++) {
                for (int j = kept[head] * 128; j < kept[head] * 128 + 128; j++) {
                    keep[(head * 128 + i) * 512 + j] = true;
                }
            }
        }
        AttentionSpec spec = AttentionSpec.DEFAULT.withMask(KeepMask.of(keep, 2, 2, 128, 512));
        StreamingAttention s = new StreamingAttention(Kernels.preferred(), 64, 128, 2, 128, 128);
        assertThat(s.visibleChunks(shape, spec)).isDeepEqualTo(new int[][] {{0, 1, 2}});
        StreamingAttention.Result r = assertSameBitsAsBlockwise(s, shape, spec, 64, 128);
        assertThat(r.pairs()).isEqualTo(s.plannedPairs(shape, spec, 0)).isEqualTo(4L * 128 * 128);
    }

    @Test
    void aResumeWithNothingLeftRunsNothing() {
        AttentionShape shape = new AttentionShape(1, 1, 1, 300, 300, 8);
        Problem p = Problem.random(shape, CAUSAL, 2, 1);
        StreamingAttention s = new StreamingAttention(Kernels.preferred(), 32, 32, 1, 128, 128);
        float[] seven = new float[300 * 8];
        Arrays.fill(seven, 7.25f);
        Tensor out = Tensor.wrap(seven.clone(), 1, 1, 300, 8);
        List<String> heard = new ArrayList<>();
        StreamingAttention.Result r = s.forward(p.qTensor(), p.kTensor(), p.vTensor(), CAUSAL, out, null, 3,
                recording(heard, new AtomicLong()), null);
        assertThat(r).isEqualTo(new StreamingAttention.Result(0, 0, 0, 0, 0));
        assertThat(heard).isEmpty();
        assertThat(out.toArray()).as("rows of earlier chunks are left as they are").isEqualTo(seven);
        assertThat(s.plannedPairs(shape, CAUSAL, 3)).isZero();
        for (int bad : new int[] {-1, 4}) {
            assertThatThrownBy(() -> s.forward(p.qTensor(), p.kTensor(), p.vTensor(), CAUSAL, out, null, bad, null,
                    null)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("first chunk " + bad + " is not in [0, 3]");
        }
    }

    @Test
    void theListenerHearsEveryTaskAndChunkAndTheResultCountsThem() {
        // causal, N = 1024, blocks 64, chunks 256: chunk pair (qc, kc) is loaded for kc <= qc
        AttentionShape shape = new AttentionShape(1, 1, 1, 1024, 1024, 8);
        Problem p = Problem.random(shape, CAUSAL, 4, 1);
        AttentionOutput blockwise = new BlockwiseAttention(Kernels.preferred(), 64, 64, 1)
                .forward(p.qTensor(), p.kTensor(), p.vTensor(), CAUSAL);
        StreamingAttention s = new StreamingAttention(Kernels.preferred(), 64, 64, 2, 256, 256);
        List<String> heard = Collections.synchronizedList(new ArrayList<>());
        AtomicLong taskPairs = new AtomicLong();
        StreamingAttention.Result r = s.forward(p.qTensor(), p.kTensor(), p.vTensor(), CAUSAL,
                Tensor.zeros(1, 1, 1024, 8), null, 0, recording(heard, taskPairs), null);
        long tiles = 16 * 17 / 2; // of the 16 × 16 tiles, those on or below the diagonal
        assertThat(r.tilesComputed()).isEqualTo(blockwise.tilesComputed()).isEqualTo(tiles);
        assertThat(r.tilesSkipped()).as("only the tiles above the diagonal of the four diagonal chunk pairs")
                .isEqualTo(4 * (4 * 3 / 2));
        assertThat(r.pairs()).isEqualTo(tiles * 64 * 64).isEqualTo(taskPairs.get())
                .isEqualTo(s.plannedPairs(shape, CAUSAL, 0));
        assertThat(r.chunksRun()).isEqualTo(4);
        assertThat(r.kvChunksLoaded()).isEqualTo(1 + 1 + 3 + 4);
        assertThat(heard.stream().filter(e -> !e.startsWith("task")).toList()).containsExactly(
                "kv 0", "chunk 0/4: " + 10 * 4096,
                "kv 1", "kv 1", "chunk 1/4: " + 26 * 4096,
                "kv 2", "kv 2", "kv 2", "chunk 2/4: " + 42 * 4096,
                "kv 3", "kv 3", "kv 3", "kv 3", "chunk 3/4: " + 58 * 4096);
        assertThat(heard.stream().filter(e -> e.startsWith("task")))
                .as("at least a task per query block and chunk pair (a block may run as two)")
                .hasSizeGreaterThanOrEqualTo(4 * (1 + 2 + 3 + 4));

        // resumed at chunk 2: the totals of chunks 2 and 3
        taskPairs.set(0);
        StreamingAttention.Result resumed = s.forward(p.qTensor(), p.kTensor(), p.vTensor(), CAUSAL,
                Tensor.zeros(1, 1, 1024, 8), null, 2, recording(new ArrayList<>(), taskPairs), null);
        assertThat(resumed.pairs()).isEqualTo((42 + 58) * 4096).isEqualTo(taskPairs.get())
                .isEqualTo(s.plannedPairs(shape, CAUSAL, 2));
        assertThat(resumed.chunksRun()).isEqualTo(2);
        assertThat(resumed.kvChunksLoaded()).isEqualTo(3 + 4);
    }

    @Test
    void theBackwardListenerHearsEveryPassChunkAndTask() {
        // GQA (two query heads per key/value head: two passes), causal, N = 512, chunks 128 × 256
        AttentionShape shape = new AttentionShape(1, 2, 1, 512, 512, 8);
        Problem p = Problem.random(shape, CAUSAL, 6, 1);
        AttentionOutput fwd = p.blockwise(64, 64);
        StreamingAttention s = new StreamingAttention(Kernels.preferred(), 64, 64, 2, 128, 256);
        List<String> heard = Collections.synchronizedList(new ArrayList<>());
        AtomicLong taskPairs = new AtomicLong();
        StreamingAttention.Result r = s.backward(p.qTensor(), p.kTensor(), p.vTensor(), CAUSAL, fwd.out(),
                Tensor.wrap(fwd.lse().clone(), 1, 2, 512, 1), p.dOutTensor(), Tensor.zeros(1, 2, 512, 8),
                Tensor.zeros(1, 1, 512, 8), Tensor.zeros(1, 1, 512, 8), recording(heard, taskPairs), null);
        assertThat(r.pairs()).isEqualTo(taskPairs.get()).isEqualTo(s.plannedPairs(shape, CAUSAL, 0));
        assertThat(r.chunksRun()).isEqualTo(8);
        // per pass: chunk 0 loaded for query chunk 0 and kept for 1; 1 for 2; 0 and 1 again for 3
        assertThat(r.kvChunksLoaded()).isEqualTo(2 * 4);
        List<String> perPass = List.of("kv 0", "chunk", "kv 1", "chunk", "kv 2", "kv 2", "chunk", "kv 3", "kv 3",
                "chunk");
        List<String> both = new ArrayList<>(perPass);
        both.addAll(perPass);
        assertThat(heard.stream().filter(e -> !e.startsWith("task")).map(e -> e.replaceAll(" \\d+/.*", "")).toList())
                .isEqualTo(both);
        assertThat(heard.stream().filter(e -> e.startsWith("task"))).isNotEmpty();
    }

    @Test
    void aStopAfterTheLastKeyValueChunkLeavesTheQueryChunkUnwritten() {
        AttentionShape shape = new AttentionShape(1, 1, 1, 1024, 1024, 8);
        Problem p = Problem.random(shape, CAUSAL, 4, 1);
        StreamingAttention s = new StreamingAttention(Kernels.preferred(), 64, 64, 1, 256, 256);
        AtomicBoolean stop = new AtomicBoolean();
        List<String> heard = new ArrayList<>();
        StreamingAttention.Listener listener = new StreamingAttention.Listener() {
            @Override
            public void chunkDone(int chunk, int chunks, long pairs) {
                heard.add("chunk " + chunk);
            }

            @Override
            public void kvChunkDone(int chunk) {
                heard.add("kv " + chunk);
                stop.set(true); // query chunk 0 sees key/value chunk 0 only: its last
            }
        };
        Tensor out = Tensor.zeros(1, 1, 1024, 8);
        assertThatThrownBy(() -> s.forward(p.qTensor(), p.kTensor(), p.vTensor(), CAUSAL, out, null, 0, listener,
                stop::get)).isInstanceOf(StreamingAttention.Stopped.class);
        assertThat(heard).containsExactly("kv 0");
        assertThat(out.toArray()).as("nothing written").isEqualTo(new float[1024 * 8]);
    }

    @Test
    void aStopIsAskedBeforeEveryLoadBlockAndTileAndBeforeAChunkIsWritten() {
        // one query chunk of two blocks against two key/value chunks of two blocks, one head: per
        // key/value chunk one ask before its load, 2 + 2 before the blocks of K and V and 2 × 2 × 2
        // before the tiles (the last blocks of a step run as two halves, ForwardStep.SPLIT_BLOCKS);
        // one more before the chunk is written
        AttentionShape shape = new AttentionShape(1, 1, 1, 128, 256, 8);
        Problem p = Problem.random(shape, AttentionSpec.DEFAULT, 10, 1);
        StreamingAttention s = new StreamingAttention(Kernels.preferred(), 64, 64, 1, 128, 128);
        AtomicInteger asks = new AtomicInteger();
        s.forward(p.qTensor(), p.kTensor(), p.vTensor(), p.spec(), Tensor.zeros(1, 1, 128, 8), null, 0, null,
                () -> asks.incrementAndGet() < 0);
        assertThat(asks.get()).isEqualTo(2 * (1 + 4 + 8) + 1);

        // a stop at the last tile of the first key/value chunk: that chunk is never reported done
        asks.set(0);
        List<String> heard = new ArrayList<>();
        assertThatThrownBy(() -> s.forward(p.qTensor(), p.kTensor(), p.vTensor(), p.spec(),
                Tensor.zeros(1, 1, 128, 8), null, 0, recording(heard, new AtomicLong()),
                () -> asks.incrementAndGet() >= 1 + 4 + 8)).isInstanceOf(StreamingAttention.Stopped.class);
        assertThat(heard).noneMatch(e -> e.startsWith("kv") || e.startsWith("chunk"));
    }

    @Test
    void aBackwardStopIsSeenAfterALoadAndBeforeDkIsScaled() {
        AttentionShape shape = new AttentionShape(1, 1, 1, 256, 256, 8);
        Problem p = Problem.random(shape, AttentionSpec.DEFAULT, 9, 1);
        AttentionOutput fwd = p.blockwise(64, 64);
        Tensor lse = Tensor.wrap(fwd.lse().clone(), 1, 1, 256, 1);
        // one query chunk, two key/value chunks of two blocks: asks before the chunk, before each
        // of the 2 + 2 blocks of K and V, then once more before the step
        StreamingAttention s = new StreamingAttention(Kernels.preferred(), 64, 64, 1, 256, 128);
        AtomicInteger asks = new AtomicInteger();
        List<String> heard = new ArrayList<>();
        assertThatThrownBy(() -> s.backward(p.qTensor(), p.kTensor(), p.vTensor(), p.spec(), fwd.out(), lse,
                p.dOutTensor(), Tensor.zeros(1, 1, 256, 8), Tensor.zeros(1, 1, 256, 8), Tensor.zeros(1, 1, 256, 8),
                recording(heard, new AtomicLong()), () -> asks.incrementAndGet() >= 1 + 4 + 1))
                .isInstanceOf(StreamingAttention.Stopped.class);
        assertThat(heard).as("the step did not run").isEmpty();

        // a stop requested once every chunk is done is still seen before dK is scaled
        AtomicBoolean done = new AtomicBoolean();
        Tensor dk = Tensor.zeros(1, 1, 256, 8);
        assertThatThrownBy(() -> s.backward(p.qTensor(), p.kTensor(), p.vTensor(), p.spec(), fwd.out(), lse,
                p.dOutTensor(), Tensor.zeros(1, 1, 256, 8), dk, Tensor.zeros(1, 1, 256, 8),
                (c, n, pairs) -> done.set(true), done::get)).isInstanceOf(StreamingAttention.Stopped.class);
    }

    @Test
    void aNonFiniteInputIsNamedWhereverItIs() {
        AttentionShape shape = new AttentionShape(2, 2, 2, 300, 300, 8);
        Problem p = Problem.random(shape, CAUSAL, 3, 1);
        StreamingAttention s = new StreamingAttention(Kernels.preferred(), 32, 32, 2, 128, 128);
        Tensor k = p.kTensor();
        k.set(0, 0, 0, 0, Float.NaN);
        assertNamed(() -> forward(s, p.qTensor(), k, p.vTensor()), "k contains a non-finite value at [0, 0, 0, 0]");
        Tensor v = p.vTensor();
        v.set(1, 1, 299, 7, Float.NEGATIVE_INFINITY);
        assertNamed(() -> forward(s, p.qTensor(), p.kTensor(), v), "v contains a non-finite value at [1, 1, 299, 7]");
        Tensor q = p.qTensor();
        q.set(1, 1, 255, 7, Float.NaN); // the last row of query chunk 1, in the last head
        assertNamed(() -> forward(s, q, p.kTensor(), p.vTensor()), "q contains a non-finite value at [1, 1, 255, 7]");

        AttentionOutput fwd = p.blockwise(32, 32);
        StreamingAttention back = new StreamingAttention(Kernels.preferred(), 32, 32, 2, 128, 128);
        assertNamed(() -> backward(back, p, p.qTensor(), p.kTensor(), v, p.dOutTensor(), fwd),
                "v contains a non-finite value at [1, 1, 299, 7]");
        Tensor dOut = p.dOutTensor();
        dOut.set(1, 1, 140, 0, Float.POSITIVE_INFINITY);
        assertNamed(() -> backward(back, p, p.qTensor(), p.kTensor(), p.vTensor(), dOut, fwd),
                "dO contains a non-finite value at [1, 1, 140, 0]");
    }

    @Test
    void backwardRefusesTensorsOfAnotherShapeByName() {
        AttentionShape shape = new AttentionShape(1, 2, 1, 130, 140, 8);
        Problem p = Problem.random(shape, AttentionSpec.DEFAULT, 5, 1);
        AttentionOutput fwd = p.blockwise(32, 32);
        StreamingAttention s = new StreamingAttention(Kernels.preferred(), 32, 32, 1, 128, 128);
        assertThat(s.chunkQ()).isEqualTo(128);
        assertThat(s.chunkKv()).isEqualTo(128);
        Tensor lse = Tensor.wrap(fwd.lse().clone(), 1, 2, 130, 1);
        Tensor[] ok = {fwd.out(), p.dOutTensor(), Tensor.zeros(1, 2, 130, 8), Tensor.zeros(1, 1, 140, 8),
            Tensor.zeros(1, 1, 140, 8)};
        String[] names = {"O", "dO", "dQ", "dK", "dV"};
        for (int t = 0; t < 5; t++) {
            Tensor[] args = ok.clone();
            Tensor good = ok[t];
            args[t] = Tensor.zeros(good.batch(), good.heads(), good.rows() - 1, good.dim());
            String like = t < 3 ? "[1, 2, 130, 8]" : "[1, 1, 140, 8]";
            assertThatThrownBy(() -> s.backward(p.qTensor(), p.kTensor(), p.vTensor(), p.spec(), args[0], lse, args[1],
                    args[2], args[3], args[4], null, null)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessage(names[t] + " " + args[t].shape() + " does not have the shape " + like);
        }
    }

    private static void forward(StreamingAttention s, Tensor q, Tensor k, Tensor v) {
        s.forward(q, k, v, CAUSAL, Tensor.zeros(2, 2, 300, 8), null, 0, null, null);
    }

    private static void backward(StreamingAttention s, Problem p, Tensor q, Tensor k, Tensor v, Tensor dOut,
            AttentionOutput fwd) {
        s.backward(q, k, v, p.spec(), fwd.out(), Tensor.wrap(fwd.lse().clone(), 2, 2, 300, 1), dOut,
                Tensor.zeros(2, 2, 300, 8), Tensor.zeros(2, 2, 300, 8), Tensor.zeros(2, 2, 300, 8), null, null);
    }

    private static void assertNamed(Runnable run, String message) {
        assertThatThrownBy(run::run).isInstanceOf(IllegalArgumentException.class)
                .hasMessage(message + " (inputs must be finite)");
    }

    /** Streaming attention with {@code s} gives blockwise attention's bits with its blocks; returns the run's result. */
    private static StreamingAttention.Result assertSameBitsAsBlockwise(StreamingAttention s, AttentionShape shape,
            AttentionSpec spec, int bq, int bkv) {
        Problem p = Problem.random(shape, spec, shape.qLen() + 13L * shape.kvLen(), 1);
        AttentionOutput want = new BlockwiseAttention(Kernels.preferred(), bq, bkv, 1)
                .forward(p.qTensor(), p.kTensor(), p.vTensor(), spec);
        Tensor out = Tensor.zeros(shape.batch(), shape.qHeads(), shape.qLen(), shape.dim());
        Tensor lse = Tensor.zeros(shape.batch(), shape.qHeads(), shape.qLen(), 1);
        StreamingAttention.Result r = s.forward(p.qTensor(), p.kTensor(), p.vTensor(), spec, out, lse, 0, null, null);
        assertThat(out.toArray()).as("O").isEqualTo(want.out().toArray());
        assertThat(lse.toArray()).as("LSE").isEqualTo(want.lse());
        return r;
    }

    /** A listener writing what it hears into {@code heard} and summing the tasks' pairs into {@code taskPairs}. */
    private static StreamingAttention.Listener recording(List<String> heard, AtomicLong taskPairs) {
        return new StreamingAttention.Listener() {
            @Override
            public void chunkDone(int chunk, int chunks, long pairs) {
                heard.add("chunk " + chunk + "/" + chunks + ": " + pairs);
            }

            @Override
            public void kvChunkDone(int chunk) {
                heard.add("kv " + chunk);
            }

            @Override
            public void pairsDone(long pairs) {
                taskPairs.addAndGet(pairs);
                heard.add("task " + pairs);
            }
        };
    }
}
