package org.ringattention.attention;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.ringattention.attention.LowPrecisionAttention.Format;
import org.ringattention.tensor.DType;
import org.ringattention.tensor.Tensor;

/**
 * The low-precision backward pass clears the score row of a query that sees no key, and that
 * row only: with hidden rows between visible ones (rows 1, 4 and 7 of head 1), the rows before
 * a hidden one keep their terms, and nothing of head 0 reaches head 1. Head 1 of a two-head run
 * must give the bits of head 1 run alone (the same code, so this alone cannot see a row cleared
 * too wide), and every gradient must be within the format's bound of the float64 oracle (which
 * can: a visible row's terms cleared are an error of order one).
 */
class LowPrecisionHiddenRowsTest {

    @ParameterizedTest
    @EnumSource(Format.class)
    void aHiddenRowAfterVisibleOnesClearsItsOwnTermsOnly(Format f) {
        int nq = 9;
        int nk = 7;
        AttentionShape two = new AttentionShape(1, 2, 2, nq, nk, 5);
        boolean[] keep = new boolean[2 * nq * nk];
        for (int i = 0; i < nq; i++) {
            for (int j = 0; j < nk; j++) {
                keep[i * nk + j] = true;
                keep[(nq + i) * nk + j] = i % 3 != 1;
            }
        }
        AttentionSpec spec = AttentionSpec.DEFAULT.withMask(KeepMask.of(keep, 1, 2, nq, nk));
        Problem p = Problem.random(two, spec, 8, 1);
        LowPrecisionAttention lp = new LowPrecisionAttention(f);
        assertThat(lp.format()).isSameAs(f);
        AttentionOutput o = lp.forward(p.qTensor(), p.kTensor(), p.vTensor(), spec);
        Gradients g = lp.backward(p.qTensor(), p.kTensor(), p.vTensor(), o, p.dOutTensor(), spec);

        boolean[] keep1 = java.util.Arrays.copyOfRange(keep, nq * nk, 2 * nq * nk);
        AttentionSpec spec1 = AttentionSpec.DEFAULT.withMask(KeepMask.of(keep1, 1, 1, nq, nk));
        Tensor q1 = secondHead(p.qTensor());
        Tensor k1 = secondHead(p.kTensor());
        Tensor v1 = secondHead(p.vTensor());
        AttentionOutput o1 = lp.forward(q1, k1, v1, spec1);
        Gradients g1 = lp.backward(q1, k1, v1, o1, secondHead(p.dOutTensor()), spec1);
        assertThat(o.lse(0, 1, 4)).isEqualTo(Float.NEGATIVE_INFINITY);
        assertThat(secondHead(g.dq()).toArray()).as("dQ").isEqualTo(g1.dq().toArray());
        assertThat(secondHead(g.dk()).toArray()).as("dK").isEqualTo(g1.dk().toArray());
        assertThat(secondHead(g.dv()).toArray()).as("dV").isEqualTo(g1.dv().toArray());

        VanillaAttention.Grads ref = p.vanillaGrads(VanillaAttention.Precision.FLOAT64);
        double bound = 16 * f.unitRoundoff(); // LowPrecisionAttentionTest's bound for the gradients
        assertThat(maxError(ref.dq(), g.dq())).as("dQ against the oracle").isLessThan(bound);
        assertThat(maxError(ref.dk(), g.dk())).as("dK against the oracle").isLessThan(bound);
        assertThat(maxError(ref.dv(), g.dv())).as("dV against the oracle").isLessThan(bound);
    }

    @Test
    void formatsAreNamedAsNumpyNamesTheirTypes() {
        assertThat(Format.BFLOAT16.dtype()).isEqualTo(DType.BFLOAT16);
        assertThat(Format.FLOAT16.dtype()).isEqualTo(DType.FLOAT16);
        assertThat(Format.parse("float16")).isSameAs(Format.FLOAT16);
        assertThat(Format.parse(Format.BFLOAT16.toString())).isSameAs(Format.BFLOAT16);
        assertThatThrownBy(() -> Format.parse("float8")).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("unknown low-precision format 'float8' (bfloat16 or float16)");
    }

    /** max |ref − got| / max |ref|. */
    private static double maxError(double[] ref, Tensor got) {
        float[] g = got.toArray();
        double err = 0;
        double scale = 0;
        for (int i = 0; i < ref.length; i++) {
            err = Math.max(err, Math.abs(ref[i] - g[i]));
            scale = Math.max(scale, Math.abs(ref[i]));
        }
        return err / scale;
    }

    /** Head 1 of a [1, 2, n, d] tensor as a [1, 1, n, d] one. */
    private static Tensor secondHead(Tensor t) {
        float[] a = new float[t.rows() * t.dim()];
        t.rows(0, 1, 0, t.rows()).copyTo(a, 0);
        return Tensor.wrap(a, 1, 1, t.rows(), t.dim());
    }
}
