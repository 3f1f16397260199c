package org.ringattention.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;
import org.ringattention.attention.Positions;
import org.ringattention.tensor.Tensor;

class KvCacheTest {

    private static final int D = 3;

    /** k or v [1, 1, n, D] with element (t, x) = sign · (100·t + x). */
    private static Tensor rows(int n, float sign) {
        float[] a = new float[n * D];
        for (int t = 0; t < n; t++) {
            for (int x = 0; x < D; x++) {
                a[t * D + x] = sign * (100 * t + x);
            }
        }
        return Tensor.wrap(a, 1, 1, n, D);
    }

    @Test
    void keysSitTransposedInBlocksAndAnAppendMovesNothing() {
        int block = 128;
        KvCache c = new KvCache(2, 1, 1, 1, D, block);
        c.fill(0, 0, rows(200, 1), rows(200, -1), Positions.range(0, 200));
        c.fill(1, 0, rows(200, 1), rows(200, -1), Positions.range(0, 199));
        assertThat(c.length(0)).isEqualTo(200);
        assertThat(c.owner()).as("the fewest tokens").isEqualTo(1);
        float[][] k = c.keys(0, 0, 0);
        float[][] v = c.values(0, 0, 0);
        assertThat(k.length).isEqualTo(2);
        assertThat(k[1][2 * block + 71]).as("token 199, element 2").isEqualTo(19902f);
        assertThat(v[1][71 * D + 2]).isEqualTo(-19902f);
        for (int t = 200; t < 300; t++) {
            float[] kr = {100 * t, 100 * t + 1, 100 * t + 2};
            float[] vr = {-100 * t, -100 * t - 1, -100 * t - 2};
            c.put(0, 0, kr, vr);
            c.commit(0);
        }
        assertThat(c.length(0)).isEqualTo(300);
        assertThat(c.total()).isEqualTo(499);
        float[][] k2 = c.keys(0, 0, 0);
        assertThat(k2[0]).as("a filled block is never copied").isSameAs(k[0]);
        assertThat(k2[1]).isSameAs(k[1]);
        assertThat(k2[2][1 * block + 299 - 256]).isEqualTo(29901f);
        assertThat(c.values(0, 0, 0)[2][(299 - 256) * D]).isEqualTo(-29900f);
        assertThat(c.bytes(0)).isEqualTo(2L * 3 * block * D * 4);
        assertThatThrownBy(() -> new KvCache(1, 1, 1, 1, D, 64))
                .hasMessage("cache blocks must be a positive multiple of 128 tokens, got 64");
    }
}
