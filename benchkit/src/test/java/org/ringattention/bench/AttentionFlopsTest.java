package org.ringattention.bench;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** AttentionFlops: the one formula behind every GFLOP/s the project prints. */
class AttentionFlopsTest {

    @Test
    void forwardIsFourMultiplyAddsPerQueryKeyDimAndHead() {
        assertThat(AttentionFlops.forward(3, 5, 7, 2)).isEqualTo(4.0 * 3 * 5 * 7 * 2);
        // no int overflow at a million tokens
        assertThat(AttentionFlops.forward(1 << 20, 1 << 20, 128, 32)).isEqualTo(4.0 * 0x1p40 * 128 * 32);
    }

    @Test
    void causalHalvesAndBackwardIsTwoAndAHalfTimes() {
        double full = AttentionFlops.of(4096, 128, 2, false, false);
        assertThat(full).isEqualTo(4.0 * 4096 * 4096 * 128 * 2);
        assertThat(AttentionFlops.of(4096, 128, 2, true, false)).isEqualTo(full / 2);
        assertThat(AttentionFlops.of(4096, 128, 2, false, true)).isEqualTo(full * 2.5);
        assertThat(AttentionFlops.of(40, 4, 1, true, true)).isEqualTo(4.0 * 40 * 40 * 4 * 0.5 * 2.5);
    }

    @Test
    void gflopsArePerSecondInBillions() {
        assertThat(AttentionFlops.gflops(3e9, 2)).isEqualTo(1.5);
    }
}
