package org.ringattention.attention;

/**
 * Block sizes B_q × B_kv of blockwise attention, and the rule that picks them when none are given
 * and none were tuned for the machine ({@code tune --save}). Block sizes change only the speed and
 * the rounding of a result, never its contract; the same sizes give the same bits.
 *
 * <p>The rule ({@link #defaultFor}) depends on the {@link CoreClass} detected at start-up. On
 * {@link CoreClass#HALF_WIDTH_512} cores (Zen 4) it is 128 × 128 for every head dimension and both
 * passes, the sizes its kernels were tuned with. On the others it follows from where the kernels'
 * data must sit:
 * <ul>
 *   <li>forward: B_q = 128 and B_kv the largest of 64 and 128 whose packed key block,
 *       B_kv × d floats, fits in 32 KB, so that the score kernel reads it from L1 (48 KB a core on
 *       Zen 5): 128 keys up to d = 64, 64 above;
 *   <li>backward: 64 × 64 above d = 64 and 128 × 128 up to it: a backward tile holds six blocks
 *       (Q_i, dO_i, dQ_i, K_j, V_j and the tile's P and dS) besides dK_j and dV_j, and at d = 128
 *       those of 128-row blocks no longer fit in the 1 MB L2.
 * </ul>
 * The measurements behind it are in docs/performance.md; {@code tune} finds the best sizes for
 * another machine or shape.
 */
public record BlockSizes(int blockQ, int blockKv) {

    /** The block size used where nothing is known of the shape. */
    public static final int DEFAULT = 128;

    public BlockSizes {
        if (blockQ < 1 || blockKv < 1) {
            throw new IllegalArgumentException("block sizes must be >= 1, got block-q " + blockQ + ", block-kv "
                    + blockKv);
        }
    }

    /** The sizes the rule in the class comment gives for head dimension {@code headDim} on these cores. */
    public static BlockSizes defaultFor(int headDim, boolean backward) {
        return defaultFor(headDim, backward, CoreClass.detected());
    }

    /** The sizes the rule in the class comment gives for head dimension {@code headDim} on {@code cores}. */
    public static BlockSizes defaultFor(int headDim, boolean backward, CoreClass cores) {
        if (cores == CoreClass.HALF_WIDTH_512) {
            return new BlockSizes(DEFAULT, DEFAULT);
        }
        if (backward) {
            return headDim > 64 ? new BlockSizes(64, 64) : new BlockSizes(DEFAULT, DEFAULT);
        }
        return new BlockSizes(DEFAULT, (long) DEFAULT * headDim * Float.BYTES <= 32 * 1024 ? DEFAULT : 64);
    }

    /** The rule for these cores in one line, for {@code info}. */
    public static String describeRule() {
        return describeRule(CoreClass.detected());
    }

    /** {@link #describeRule()} for {@code cores}: a seam for testing both forms on any machine. */
    static String describeRule(CoreClass cores) {
        if (cores == CoreClass.HALF_WIDTH_512) {
            return defaultFor(128, false, cores) + " for every head dimension and pass (" + cores + " cores)";
        }
        return "forward " + defaultFor(64, false, cores) + " up to d = 64, " + defaultFor(65, false, cores)
                + " above; backward " + defaultFor(64, true, cores) + " up to d = 64, " + defaultFor(65, true, cores)
                + " above (" + cores + " cores)";
    }

    @Override
    public String toString() {
        return blockQ + " x " + blockKv;
    }
}
