package org.ringattention.ring;

import java.util.Locale;
import org.ringattention.attention.Positions;

/**
 * Which tokens of a sequence each of P devices holds. Shards differ in length by at most one
 * token (or one per chunk), so lengths need not divide by P.
 * <ul>
 *   <li>{@link #CONTIGUOUS}: device i holds the i-th of P consecutive runs. Under a causal mask the
 *       last device does about 2P − 1 times the work of the first.
 *   <li>{@link #ZIGZAG}: the sequence is cut into 2P chunks; device i holds chunks i and
 *       2P − 1 − i, an early and a late one, so every device has about the same number of visible
 *       query-key pairs under a causal mask.
 *   <li>{@link #STRIPED}: token t on device t mod P; balanced as well, but almost every tile lies
 *       on the diagonal, so fewer tiles are skipped or fully visible.
 * </ul>
 */
public enum Layout {
    CONTIGUOUS,
    ZIGZAG,
    STRIPED;

    /** The positions of a sequence of {@code n} tokens that each of {@code devices} devices holds. */
    public Positions[] split(int n, int devices) {
        if (devices < 1 || n < 0) {
            throw new IllegalArgumentException("need devices >= 1 and n >= 0, got " + devices + ", " + n);
        }
        Positions[] shards = new Positions[devices];
        for (int i = 0; i < devices; i++) {
            shards[i] = switch (this) {
                case CONTIGUOUS -> Positions.range(cut(n, devices, i), cut(n, devices, i + 1) - cut(n, devices, i));
                case ZIGZAG -> zigzag(n, devices, i);
                case STRIPED -> striped(n, devices, i);
            };
        }
        return shards;
    }

    /** The layout named {@code name} (case does not matter). */
    public static Layout parse(String name) {
        try {
            return valueOf(name.trim().toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("unknown layout '" + name + "' (expected contiguous, zigzag or striped)");
        }
    }

    /** The default: zigzag under a causal mask (it balances the work), contiguous otherwise. */
    public static Layout defaultFor(boolean causal) {
        return causal ? ZIGZAG : CONTIGUOUS;
    }

    @Override
    public String toString() {
        return name().toLowerCase(Locale.ROOT);
    }

    /** Start of part {@code i} of {@code parts} near-equal parts of {@code n}. */
    private static int cut(int n, int parts, int i) {
        return (int) ((long) n * i / parts);
    }

    private static Positions zigzag(int n, int devices, int i) {
        int chunks = 2 * devices;
        int aStart = cut(n, chunks, i);
        int aEnd = cut(n, chunks, i + 1);
        int bStart = cut(n, chunks, chunks - 1 - i);
        int bEnd = cut(n, chunks, chunks - i);
        int[] at = new int[(aEnd - aStart) + (bEnd - bStart)];
        int r = 0;
        for (int t = aStart; t < aEnd; t++) {
            at[r++] = t;
        }
        for (int t = bStart; t < bEnd; t++) {
            at[r++] = t;
        }
        return Positions.of(at);
    }

    private static Positions striped(int n, int devices, int i) {
        int[] at = new int[n > i ? (n - i + devices - 1) / devices : 0];
        for (int r = 0; r < at.length; r++) {
            at[r] = i + r * devices;
        }
        return Positions.of(at);
    }
}
