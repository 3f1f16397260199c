package org.ringattention.attention;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.ringattention.attention.LowPrecisionAttention.Format;
import org.ringattention.tensor.Tensor;

/**
 * {@link LowPrecisionAttention}: its error against the float64 oracle is of the order of the
 * format's unit roundoff (far above float32's), it is deterministic, it returns values of the
 * format, and it sees exactly the keys {@link Mask} lets it see.
 */
class LowPrecisionAttentionTest {

    private static final AttentionShape GQA = new AttentionShape(2, 4, 2, 37, 41, 59);

    @ParameterizedTest
    @EnumSource(Format.class)
    void errorIsOfTheOrderOfTheUnitRoundoff(Format f) {
        for (AttentionSpec spec : new AttentionSpec[] {AttentionSpec.DEFAULT, AttentionSpec.DEFAULT.withCausal(true)}) {
            Problem p = Problem.random(GQA, spec, 11, 1.5);
            LowPrecisionAttention lp = new LowPrecisionAttention(f);
            AttentionOutput o = lp.forward(p.qTensor(), p.kTensor(), p.vTensor(), spec);
            Gradients g = lp.backward(p.qTensor(), p.kTensor(), p.vTensor(), o, p.dOutTensor(), spec);
            VanillaAttention.Result ref = p.vanilla(VanillaAttention.Precision.FLOAT64);
            VanillaAttention.Result f32 = p.vanilla(VanillaAttention.Precision.FLOAT32);
            VanillaAttention.Grads refG = p.vanillaGrads(VanillaAttention.Precision.FLOAT64);
            double u = f.unitRoundoff();
            String ctx = f + " " + spec;
            double errO = normalized(ref.out(), Problem.widen(o.out()));
            double errLse = normalized(ref.lse(), Problem.widen(o.lse()));
            assertThat(errO).as(ctx).isBetween(0.1 * u, 4 * u);
            assertThat(errO).as(ctx).isGreaterThan(100 * normalized(ref.out(), f32.out()));
            assertThat(errLse).as(ctx).isLessThan(4 * u);
            for (double e : new double[] {normalized(refG.dq(), Problem.widen(g.dq())),
                normalized(refG.dk(), Problem.widen(g.dk())), normalized(refG.dv(), Problem.widen(g.dv()))}) {
                assertThat(e).as(ctx).isBetween(0.1 * u, 16 * u);
            }
        }
    }

    @ParameterizedTest
    @EnumSource(Format.class)
    void deterministicAndInTheFormat(Format f) {
        AttentionSpec spec = AttentionSpec.DEFAULT.withWindow(9);
        Problem p = Problem.random(GQA, spec, 5, 1);
        LowPrecisionAttention lp = new LowPrecisionAttention(f);
        AttentionOutput a = lp.forward(p.qTensor(), p.kTensor(), p.vTensor(), spec);
        AttentionOutput b = lp.forward(p.qTensor(), p.kTensor(), p.vTensor(), spec);
        assertThat(b.out().toArray()).isEqualTo(a.out().toArray());
        assertThat(b.lse()).isEqualTo(a.lse());
        Gradients ga = lp.backward(p.qTensor(), p.kTensor(), p.vTensor(), a, p.dOutTensor(), spec);
        Gradients gb = lp.backward(p.qTensor(), p.kTensor(), p.vTensor(), b, p.dOutTensor(), spec);
        for (Tensor[] t : new Tensor[][] {{ga.dq(), gb.dq()}, {ga.dk(), gb.dk()}, {ga.dv(), gb.dv()}, {a.out(), a.out()}}) {
            float[] x = t[0].toArray();
            assertThat(t[1].toArray()).isEqualTo(x);
            for (float e : x) {
                assertThat(f.round(e)).isEqualTo(e); // outputs are values of the format
            }
        }
    }

    /** Keys the mask hides do not matter; rows that see no key give O = 0, LSE = −∞, no gradient. */
    @ParameterizedTest
    @EnumSource(Format.class)
    void seesOnlyWhatTheMaskShows(Format f) {
        AttentionShape shape = new AttentionShape(1, 2, 1, 13, 7, 8); // Nq > Nk: 6 rows see no key
        AttentionSpec spec = AttentionSpec.DEFAULT.withCausal(true);
        Problem p = Problem.random(shape, spec, 3, 1);
        Mask mask = Mask.of(spec, shape);
        LowPrecisionAttention lp = new LowPrecisionAttention(f);
        AttentionOutput o = lp.forward(p.qTensor(), p.kTensor(), p.vTensor(), spec);
        Gradients g = lp.backward(p.qTensor(), p.kTensor(), p.vTensor(), o, p.dOutTensor(), spec);
        for (int h = 0; h < 2; h++) {
            for (int i = 0; i < 13; i++) {
                boolean seesAny = false;
                for (int j = 0; j < 7; j++) {
                    seesAny |= mask.visible(0, i, j);
                }
                assertThat(seesAny).isEqualTo(i >= 6);
                if (!seesAny) {
                    assertThat(o.lse(0, h, i)).isEqualTo(Float.NEGATIVE_INFINITY);
                    for (int x = 0; x < 8; x++) {
                        assertThat(o.out().get(0, h, i, x)).isZero();
                        assertThat(g.dq().get(0, h, i, x)).isZero();
                    }
                } else {
                    assertThat(o.lse(0, h, i)).isFinite();
                }
            }
        }
        // changing the last key and value, seen only by the last row, changes nothing else
        float[] k2 = p.k().clone();
        float[] v2 = p.v().clone();
        for (int x = 0; x < 8; x++) {
            k2[6 * 8 + x] += 3;
            v2[6 * 8 + x] -= 5;
        }
        Problem changed = p.withInputs(p.q(), k2, v2);
        AttentionOutput o2 = lp.forward(changed.qTensor(), changed.kTensor(), changed.vTensor(), spec);
        for (int h = 0; h < 2; h++) {
            for (int i = 0; i < 12; i++) {
                for (int x = 0; x < 8; x++) {
                    assertThat(o2.out().get(0, h, i, x)).isEqualTo(o.out().get(0, h, i, x));
                }
            }
            assertThat(o2.out().get(0, h, 12, 0)).isNotEqualTo(o.out().get(0, h, 12, 0));
        }
    }

    @org.junit.jupiter.api.Test
    void inputsBeyondFloat16AreRefused() {
        AttentionShape shape = new AttentionShape(1, 1, 1, 2, 2, 2);
        Tensor q = Tensor.wrap(new float[] {1, 2, 70000, 4}, 1, 1, 2, 2);
        Tensor k = Tensor.wrap(new float[] {1, 2, 3, 4}, 1, 1, 2, 2);
        assertThat(shape.qSize()).isEqualTo(4);
        assertThatThrownBy(() -> new LowPrecisionAttention(Format.FLOAT16).forward(q, k, k, AttentionSpec.DEFAULT))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("q holds 70000.0 at [0, 0, 1, 0], beyond the range of float16");
        assertThat(new LowPrecisionAttention(Format.BFLOAT16).forward(q, k, k, AttentionSpec.DEFAULT).out()
                .get(0, 0, 1, 0)).isFinite();
    }

    @org.junit.jupiter.api.Test
    void nonFiniteInputsAreNamedAsTheOtherEnginesNameThem() {
        Tensor q = Tensor.wrap(new float[] {1, 2, Float.NaN, 4}, 1, 1, 2, 2);
        Tensor k = Tensor.wrap(new float[] {1, 2, 3, 4}, 1, 1, 2, 2);
        assertThatThrownBy(() -> new LowPrecisionAttention(Format.BFLOAT16).forward(q, k, k, AttentionSpec.DEFAULT))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("q contains NaN at [0, 0, 1, 0] (inputs must be finite)");
    }

    @ParameterizedTest
    @EnumSource(Format.class)
    void headsAreIndependentWhenARowSeesNoKeyInOneHeadOnly(Format f) {
        // a keep mask per head hides rows 0..4 in head 1 only: head 1's gradients must not carry
        // anything of head 0's rows (the pass reuses its score rows from head to head)
        AttentionShape two = new AttentionShape(1, 2, 2, 9, 7, 5);
        boolean[] keep = new boolean[2 * 9 * 7];
        for (int i = 0; i < 9; i++) {
            for (int j = 0; j < 7; j++) {
                keep[i * 7 + j] = true;
                keep[(9 + i) * 7 + j] = i >= 5;
            }
        }
        AttentionSpec spec = AttentionSpec.DEFAULT.withMask(KeepMask.of(keep, 1, 2, 9, 7));
        Problem p = Problem.random(two, spec, 3, 1);
        LowPrecisionAttention lp = new LowPrecisionAttention(f);
        AttentionOutput o = lp.forward(p.qTensor(), p.kTensor(), p.vTensor(), spec);
        Gradients g = lp.backward(p.qTensor(), p.kTensor(), p.vTensor(), o, p.dOutTensor(), spec);

        AttentionShape one = new AttentionShape(1, 1, 1, 9, 7, 5);
        boolean[] keep1 = java.util.Arrays.copyOfRange(keep, 9 * 7, 2 * 9 * 7);
        AttentionSpec spec1 = AttentionSpec.DEFAULT.withMask(KeepMask.of(keep1, 1, 1, 9, 7));
        Tensor q1 = head1(p.qTensor(), 9);
        Tensor k1 = head1(p.kTensor(), 7);
        Tensor v1 = head1(p.vTensor(), 7);
        AttentionOutput o1 = lp.forward(q1, k1, v1, spec1);
        Gradients g1 = lp.backward(q1, k1, v1, o1, head1(p.dOutTensor(), 9), spec1);
        assertThat(one.qSize()).isEqualTo(q1.toArray().length);
        assertThat(head1(o.out(), 9).toArray()).isEqualTo(o1.out().toArray());
        assertThat(head1(g.dq(), 9).toArray()).isEqualTo(g1.dq().toArray());
        assertThat(head1(g.dk(), 7).toArray()).isEqualTo(g1.dk().toArray());
        assertThat(head1(g.dv(), 7).toArray()).isEqualTo(g1.dv().toArray());
        assertThat(o.lse(0, 1, 0)).isEqualTo(Float.NEGATIVE_INFINITY);
    }

    private static Tensor head1(Tensor t, int rows) {
        float[] a = t.toArray();
        return Tensor.wrap(java.util.Arrays.copyOfRange(a, rows * 5, 2 * rows * 5), 1, 1, rows, 5);
    }

    private static double normalized(double[] ref, double[] got) {
        double err = 0;
        double scale = 0;
        for (int i = 0; i < ref.length; i++) {
            if (Double.isInfinite(ref[i]) && ref[i] == got[i]) {
                continue;
            }
            err = Math.max(err, Math.abs(ref[i] - got[i]));
            scale = Math.max(scale, Math.abs(ref[i]));
        }
        return err / scale;
    }
}
