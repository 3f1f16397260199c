package org.ringattention.ring;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import org.junit.jupiter.api.Test;
import org.ringattention.attention.Positions;

/**
 * {@link Layout#split}: the shards of every layout form a permutation of 0..n−1 (each token on
 * exactly one device, positions increasing within a shard), in the documented pattern, and they
 * balance: lengths within one token (two for zigzag's two chunks), and under a causal mask zigzag
 * and striped give each device nearly the same number of visible query-key pairs.
 */
class LayoutProperties {

    @Property
    void everyLayoutIsAPermutation(@ForAll Layout layout, @ForAll @IntRange(min = 0, max = 5000) int n,
            @ForAll @IntRange(min = 1, max = 64) int devices) {
        Positions[] shards = layout.split(n, devices);
        assertEquals(devices, shards.length);
        int[] owner = new int[n];
        java.util.Arrays.fill(owner, -1);
        int min = Integer.MAX_VALUE;
        int max = 0;
        for (int d = 0; d < devices; d++) {
            Positions s = shards[d];
            for (int r = 0; r < s.length(); r++) {
                int t = s.at(r);
                assertTrue(t >= 0 && t < n, layout + " position " + t + " outside 0.." + (n - 1));
                assertEquals(-1, owner[t], layout + " token " + t + " on two devices");
                owner[t] = d;
                if (r > 0) {
                    assertTrue(s.at(r - 1) < t, "positions increase within a shard");
                }
                assertEquals(expectedOwner(layout, n, devices, t), d, layout + " n=" + n + " P=" + devices + " t=" + t);
            }
            min = Math.min(min, s.length());
            max = Math.max(max, s.length());
        }
        for (int t = 0; t < n; t++) {
            assertTrue(owner[t] >= 0, layout + " token " + t + " on no device");
        }
        assertTrue(max - min <= (layout == Layout.ZIGZAG ? 2 : 1), layout + " lengths " + min + ".." + max);
    }

    /** The device of token t, from the definitions in Layout's class comment. */
    private static int expectedOwner(Layout layout, int n, int devices, int t) {
        return switch (layout) {
            case CONTIGUOUS -> chunkOf(n, devices, t);
            case ZIGZAG -> {
                int c = chunkOf(n, 2 * devices, t);
                yield c < devices ? c : 2 * devices - 1 - c;
            }
            case STRIPED -> t % devices;
        };
    }

    /** Which of {@code parts} near-equal consecutive parts of 0..n−1 holds t: part i is [⌊n·i/parts⌋, ⌊n·(i+1)/parts⌋). */
    private static int chunkOf(int n, int parts, int t) {
        int i = (int) ((long) t * parts / n);
        while ((long) n * (i + 1) / parts <= t) {
            i++;
        }
        while ((long) n * i / parts > t) {
            i--;
        }
        return i;
    }

    /** Visible causal pairs per device, as a ratio of the largest to the mean (1 = perfect balance). */
    private static double causalImbalance(Layout layout, int n, int devices) {
        long[] pairs = new long[devices];
        Positions[] shards = layout.split(n, devices);
        long total = 0;
        for (int d = 0; d < devices; d++) {
            for (int r = 0; r < shards[d].length(); r++) {
                pairs[d] += shards[d].at(r) + 1; // query t sees keys 0..t
            }
            total += pairs[d];
        }
        long max = java.util.Arrays.stream(pairs).max().orElse(0);
        return max / (total / (double) devices);
    }

    @Property
    void zigzagAndStripedBalanceCausalWork(@ForAll @IntRange(min = 1, max = 16) int devices,
            @ForAll @IntRange(min = 0, max = 20) int extra) {
        int n = 256 * devices + extra;
        // each device holds within 2 tokens of n/P, each of at most n pairs: (2n) / (n²/2P) of the mean
        double slack = 1 + 4.0 * devices / n + 1e-12;
        assertTrue(causalImbalance(Layout.ZIGZAG, n, devices) <= slack, "zigzag");
        assertTrue(causalImbalance(Layout.STRIPED, n, devices) <= slack, "striped");
        if (devices > 1) {
            // contiguous: the last device sees (2P − 1)/P² of the pairs, about 2 − 1/P of the mean
            double c = causalImbalance(Layout.CONTIGUOUS, n, devices);
            assertTrue(c > 2 - 1.0 / devices - 0.05, "contiguous " + c);
        }
    }

    @Test
    void documentedPatternsAndBadArguments() {
        assertEquals("[0, 1, 6, 7]", Layout.ZIGZAG.split(8, 2)[0].toString());
        assertEquals("[2, 3, 4, 5]", Layout.ZIGZAG.split(8, 2)[1].toString());
        assertEquals("[1, 4, 7]", Layout.STRIPED.split(8, 3)[1].toString());
        assertEquals("[2, 5)", Layout.CONTIGUOUS.split(8, 3)[1].toString());
        assertEquals(0, Layout.STRIPED.split(2, 4)[3].length());
        assertEquals(0, Layout.ZIGZAG.split(0, 3)[2].length());
        assertThrows(IllegalArgumentException.class, () -> Layout.CONTIGUOUS.split(4, 0));
        assertThrows(IllegalArgumentException.class, () -> Layout.ZIGZAG.split(-1, 2));
        assertEquals(Layout.ZIGZAG, Layout.parse(" ZigZag "));
        assertEquals(Layout.STRIPED, Layout.parse("striped"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Layout.parse("ring"));
        assertTrue(e.getMessage().contains("'ring'") && e.getMessage().contains("contiguous, zigzag or striped"));
        assertEquals(Layout.ZIGZAG, Layout.defaultFor(true));
        assertEquals(Layout.CONTIGUOUS, Layout.defaultFor(false));
        assertEquals("contiguous", Layout.CONTIGUOUS.toString());
    }
}
