package org.ringattention.kernel;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** The polynomial exp against the correctly rounded exp (StrictMath in float64, rounded once). */
class PolynomialExpTest {

    private static int ulpDistance(float a, float b) {
        return Math.abs(Float.floatToIntBits(a) - Float.floatToIntBits(b));
    }

    private static int worstOver(float from, float to, int stride) {
        int worst = 0;
        int start = Float.floatToIntBits(from);
        int end = Float.floatToIntBits(to);
        // negative floats: bits grow as values fall; walk from the bits of 'to' up to those of 'from'
        int lo = Math.min(start, end);
        int hi = Math.max(start, end);
        for (long bits = lo; bits <= hi; bits += stride) {
            float x = Float.intBitsToFloat((int) bits);
            float want = (float) StrictMath.exp(x);
            worst = Math.max(worst, ulpDistance(want, PolynomialExp.exp(x)));
        }
        return worst;
    }

    @Test
    void withinTheDocumentedUlpOnTheNegativeRange() {
        // every 1009th float of [−104, −0] (subnormal results included): about a million values
        assertThat(worstOver(-0f, -104f, 1009)).isLessThanOrEqualTo(PolynomialExp.MAX_ULP);
    }

    @Test
    void withinTheDocumentedUlpNearZeroAndAbove() {
        assertThat(worstOver(-1f, -0f, 13)).isLessThanOrEqualTo(PolynomialExp.MAX_ULP);
        assertThat(worstOver(0f, 1f, 13)).isLessThanOrEqualTo(PolynomialExp.MAX_ULP);
        assertThat(worstOver(1f, 88.3f, 1009)).isLessThanOrEqualTo(PolynomialExp.MAX_ULP);
    }

    @Test
    void edges() {
        assertThat(PolynomialExp.exp(0f)).isEqualTo(1f);
        assertThat(PolynomialExp.exp(Float.NEGATIVE_INFINITY)).isEqualTo(0f);
        assertThat(PolynomialExp.exp(-104.5f)).isEqualTo(0f);
        assertThat(PolynomialExp.exp(-103f)).isGreaterThan(0f).isLessThan(Float.MIN_NORMAL);
        assertThat(PolynomialExp.exp(88.37f)).isFinite();
    }
}
