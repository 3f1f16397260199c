package org.ringattention.tensor;

import static org.assertj.core.api.Assertions.assertThat;

import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import org.junit.jupiter.api.Test;

/** {@link BFloat16}: exact widening, round-to-nearest-even narrowing, checked against a reference in double. */
class BFloat16Test {

    @Test
    void everyPatternWidensExactlyAndNarrowsBack() {
        for (int b = 0; b < 0x10000; b++) {
            float f = BFloat16.toFloat((short) b);
            assertThat(Float.floatToRawIntBits(f)).isEqualTo(b << 16);
            if (!Float.isNaN(f)) {
                assertThat(BFloat16.fromFloat(f) & 0xffff).isEqualTo(b);
            } else {
                assertThat(Float.isNaN(BFloat16.toFloat(BFloat16.fromFloat(f)))).isTrue();
            }
        }
    }

    @Test
    void tiesGoToEven() {
        // 1 + 2^-8 lies halfway between 1 (even fraction 0) and 1 + 2^-7 (odd): rounds down.
        assertThat(BFloat16.round(1f + 0x1p-8f)).isEqualTo(1f);
        // 1 + 3·2^-8 lies halfway between 1 + 2^-7 (odd) and 1 + 2^-6 (even): rounds up.
        assertThat(BFloat16.round(1f + 3 * 0x1p-8f)).isEqualTo(1f + 0x1p-6f);
        // just above a tie rounds up
        assertThat(BFloat16.round(Math.nextUp(1f + 0x1p-8f))).isEqualTo(1f + 0x1p-7f);
        assertThat(BFloat16.round(-1f - 0x1p-8f)).isEqualTo(-1f);
    }

    @Test
    void overflowNaNAndSubnormals() {
        float max = BFloat16.toFloat((short) 0x7f7f);
        assertThat(BFloat16.round(Float.MAX_VALUE)).isEqualTo(Float.POSITIVE_INFINITY);
        assertThat(BFloat16.round(max)).isEqualTo(max);
        assertThat(BFloat16.round(Float.NEGATIVE_INFINITY)).isEqualTo(Float.NEGATIVE_INFINITY);
        assertThat(BFloat16.fromFloat(Float.NaN) & 0x7fc0).isEqualTo(0x7fc0);
        // a NaN whose payload sits only in the low 16 bits must not become infinity
        float lowPayloadNaN = Float.intBitsToFloat(0xff800001);
        assertThat(BFloat16.fromFloat(lowPayloadNaN) & 0xffff).isEqualTo(0xffc0);
        assertThat(BFloat16.round(Float.MIN_VALUE)).isEqualTo(0f);
        assertThat(BFloat16.round(0x1p-133f)).isEqualTo(0x1p-133f); // smallest bfloat16 subnormal
        assertThat(Float.floatToRawIntBits(BFloat16.round(-0f))).isEqualTo(Float.floatToRawIntBits(-0f));
    }

    @Property(tries = 1000)
    void roundsToTheNearerNeighbourTiesToEven(@ForAll float f) {
        if (Float.isNaN(f) || Float.isInfinite(f)) {
            return;
        }
        int bits = Float.floatToRawIntBits(f);
        float down = Float.intBitsToFloat(bits & 0xffff0000); // toward zero
        float up = Float.intBitsToFloat((bits & 0xffff0000) + 0x10000); // away from zero
        double dDown = Math.abs((double) f - down);
        // past the largest bfloat16 the next step is 2^128, which IEEE rounding treats as finite
        double upValue = Float.isInfinite(up) ? Math.copySign(0x1p128, f) : up;
        double dUp = Math.abs((double) f - upValue);
        float expected;
        if (dDown < dUp) {
            expected = down;
        } else if (dUp < dDown) {
            expected = up;
        } else {
            expected = ((bits >>> 16) & 1) == 0 ? down : up;
        }
        assertThat(BFloat16.round(f)).isEqualTo(expected);
    }
}
