package org.ringattention.attention;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import org.junit.jupiter.api.Test;
import org.ringattention.kernel.Kernels;
import org.ringattention.tensor.Tensor;

/** The engine reads heap and off-heap tensors alike, and refuses inputs it cannot give a meaning to. */
class TensorStorageTest {

    private final BlockwiseAttention engine = new BlockwiseAttention(Kernels.preferred(), 7, 5);

    @Test
    void offHeapInputsGiveBitIdenticalResults() {
        Problem p = Problem.random(new AttentionShape(2, 4, 2, 19, 23, 11), AttentionSpec.DEFAULT.withCausal(true),
                42, 1);
        AttentionOutput heap = engine.forward(p.qTensor(), p.kTensor(), p.vTensor(), p.spec());
        try (Arena arena = Arena.ofConfined()) {
            Tensor q = offHeap(arena, p.qTensor());
            Tensor k = offHeap(arena, p.kTensor());
            Tensor v = offHeap(arena, p.vTensor());
            assertThat(q.isHeap()).isFalse();
            AttentionOutput off = engine.forward(q, k, v, p.spec());
            assertThat(off.out().toArray()).isEqualTo(heap.out().toArray());
            assertThat(off.lse()).isEqualTo(heap.lse());
        }
    }

    @Test
    void rowBlocksAreViews() {
        Tensor t = Tensor.zeros(1, 2, 5, 3);
        t.rows(0, 1, 2, 2).set(1, 2, 9f);
        assertThat(t.get(0, 1, 3, 2)).isEqualTo(9f);
        float[] buf = new float[6];
        t.rows(0, 1, 2, 2).copyTo(buf, 0);
        assertThat(buf[5]).isEqualTo(9f);
    }

    @Test
    void withSeveralThreadsTheFirstNonFiniteInputIsNamed() {
        // The check runs in pieces on the workers; the error must still name the first tensor (in
        // the order q, k, v) that holds a non-finite element, and its first such element.
        Problem p = Problem.random(new AttentionShape(1, 2, 2, 40, 40, 8), AttentionSpec.DEFAULT, 3, 1);
        Tensor k = p.kTensor();
        Tensor v = p.vTensor();
        k.set(0, 1, 39, 7, Float.NaN); // the last element of k
        k.set(0, 1, 30, 0, Float.POSITIVE_INFINITY);
        v.set(0, 0, 0, 0, Float.NaN); // the first element of v
        for (int threads = 1; threads <= 3; threads++) {
            BlockwiseAttention e = new BlockwiseAttention(Kernels.preferred(), 7, 5, threads);
            assertThatThrownBy(() -> e.forward(p.qTensor(), k, v, p.spec()))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("k contains Infinity at [0, 1, 30, 0]");
        }
    }

    @Test
    void everyElementOfEveryInputIsChecked() {
        // The tasks check the blocks they copy or pack: a NaN anywhere, in a tail block or under a
        // mask that hides it from every query, must still be found and named.
        AttentionShape shape = new AttentionShape(1, 2, 1, 11, 11, 5);
        AttentionSpec[] specs = {AttentionSpec.DEFAULT, AttentionSpec.DEFAULT.withCausal(true).withWindow(2)};
        BlockwiseAttention e = new BlockwiseAttention(Kernels.preferred(), 4, 3, 2);
        String[] names = {"q", "k", "v"};
        for (AttentionSpec spec : specs) {
            Problem p = Problem.random(shape, spec, 5, 1);
            for (int input = 0; input < 3; input++) {
                Tensor[] qkv = {p.qTensor(), p.kTensor(), p.vTensor()};
                Tensor t = qkv[input];
                for (int h = 0; h < t.heads(); h++) {
                    for (int i = 0; i < t.rows(); i++) {
                        for (int x = 0; x < t.dim(); x++) {
                            float old = t.get(0, h, i, x);
                            t.set(0, h, i, x, Float.NaN);
                            assertThatThrownBy(() -> e.forward(qkv[0], qkv[1], qkv[2], spec))
                                    .isInstanceOf(IllegalArgumentException.class)
                                    .hasMessage(names[input] + " contains NaN at [0, " + h + ", " + i + ", " + x
                                            + "] (inputs must be finite)");
                            t.set(0, h, i, x, old);
                        }
                    }
                }
            }
        }
    }

    @Test
    void theBackwardPassRefusesNonFiniteKeysAndValues() {
        Problem p = Problem.random(new AttentionShape(1, 2, 2, 9, 9, 4), AttentionSpec.DEFAULT, 2, 1);
        AttentionOutput fwd = engine.forward(p.qTensor(), p.kTensor(), p.vTensor(), p.spec());
        Tensor k = p.kTensor();
        k.set(0, 1, 8, 3, Float.NEGATIVE_INFINITY);
        assertThatThrownBy(() -> engine.backward(p.qTensor(), k, p.vTensor(), fwd, p.dOutTensor(), p.spec()))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("k contains -Infinity at [0, 1, 8, 3]");
        Tensor v = p.vTensor();
        v.set(0, 0, 4, 0, Float.NaN);
        assertThatThrownBy(() -> engine.backward(p.qTensor(), p.kTensor(), v, fwd, p.dOutTensor(), p.spec()))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("v contains NaN at [0, 0, 4, 0]");
    }

    @Test
    void nonFiniteInputsAreRefused() {
        Problem p = Problem.random(new AttentionShape(1, 1, 1, 4, 4, 3), AttentionSpec.DEFAULT, 1, 1);
        Tensor k = p.kTensor();
        k.set(0, 0, 2, 1, Float.NaN);
        assertThatThrownBy(() -> engine.forward(p.qTensor(), k, p.vTensor(), p.spec()))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("k contains NaN at [0, 0, 2, 1]");
        Tensor v = p.vTensor();
        v.set(0, 0, 0, 0, Float.NEGATIVE_INFINITY);
        assertThatThrownBy(() -> engine.forward(p.qTensor(), p.kTensor(), v, p.spec()))
                .hasMessageContaining("v contains -Infinity");
        Tensor dOut = p.dOutTensor();
        dOut.set(0, 0, 3, 2, Float.POSITIVE_INFINITY);
        assertThatThrownBy(() -> engine.backward(p.qTensor(), p.kTensor(), p.vTensor(), dOut, p.spec()))
                .hasMessageContaining("dO contains Infinity");
    }

    @Test
    void mismatchedShapesAreRefused() {
        Tensor q = Tensor.zeros(1, 3, 4, 8);
        Tensor k = Tensor.zeros(1, 2, 4, 8);
        assertThatThrownBy(() -> engine.forward(q, k, k, AttentionSpec.DEFAULT))
                .hasMessageContaining("query heads (3) must be a multiple of key/value heads (2)");
        Tensor k5 = Tensor.zeros(1, 1, 4, 5);
        assertThatThrownBy(() -> engine.forward(q, k5, k5, AttentionSpec.DEFAULT)).hasMessageContaining("head dims differ");
        assertThatThrownBy(() -> new BlockwiseAttention(Kernels.preferred(), 0, 4)).hasMessageContaining("block sizes");
        SegmentIds seg = SegmentIds.of(new long[] {1, 1, 2}, 1, 3);
        assertThatThrownBy(() -> engine.forward(q, Tensor.zeros(1, 1, 4, 8), Tensor.zeros(1, 1, 4, 8),
                AttentionSpec.DEFAULT.withSegments(seg))).hasMessageContaining("segment ids have shape [1, 3]");
    }

    private static Tensor offHeap(Arena arena, Tensor t) {
        MemorySegment seg = arena.allocate(t.size() * Float.BYTES);
        Tensor off = Tensor.of(seg, t.batch(), t.heads(), t.rows(), t.dim());
        for (int b = 0; b < t.batch(); b++) {
            for (int h = 0; h < t.heads(); h++) {
                float[] rows = new float[t.rows() * t.dim()];
                t.rows(b, h, 0, t.rows()).copyTo(rows, 0);
                off.rows(b, h, 0, t.rows()).copyFrom(rows, 0);
            }
        }
        return off;
    }
}
