package org.ringattention.model;

import org.ringattention.attention.Positions;

/**
 * The RoPE angles of one forward or backward call ({@link LlamaModel#forward},
 * {@link ModelBackward#backward}), computed once per block of rows and shared by every layer and
 * pass (and by every batch row, which sits at the same positions): the cosines and sines are the
 * same for each layer, and recomputing them per layer was a few per cent of a prefill.
 *
 * <p>Memory is bounded: tables are kept, in block order, only while their total stays within
 * {@code capDoubles} doubles ({@link #DEFAULT_CAP}, 16 MiB: N·d ≤ 2^21, e.g. N = 16384 at d = 128);
 * the blocks beyond it get no table and their rows' angles are computed where they are used, as
 * before. Either way the values are {@link Rope#angles}' bits.
 */
final class RopeTables {

    /** At most this many doubles of tables per call. */
    static final int DEFAULT_CAP = 1 << 21;

    private final double[][] byBlock;

    /**
     * @param blocks the call's blocks, {device, batch row, first row, rows} ({@link LlamaModel#blocks})
     */
    RopeTables(Rope rope, Positions[] shards, int[][] blocks, long capDoubles, Tasks tasks) {
        int d = rope.dim();
        byBlock = new double[blocks.length][];
        java.util.Map<Long, double[]> byRows = new java.util.HashMap<>();
        boolean[] owner = new boolean[blocks.length];
        long used = 0;
        for (int t = 0; t < blocks.length; t++) {
            int[] bl = blocks[t];
            long key = ((long) bl[0] << 32) | bl[2]; // the positions depend on the device and first row only
            double[] table = byRows.get(key);
            if (table == null && used + (long) bl[3] * d <= capDoubles) {
                table = new double[bl[3] * d];
                used += table.length;
                byRows.put(key, table);
                owner[t] = true;
            }
            byBlock[t] = table;
        }
        tasks.run(blocks.length, t -> {
            if (owner[t]) {
                int[] bl = blocks[t];
                Positions p = shards[bl[0]];
                for (int r = 0; r < bl[3]; r++) {
                    rope.angles(p.at(bl[2] + r), byBlock[t], r * d);
                }
            }
        });
    }

    /** The table of block {@code t}: row r's angles at {@code [r·d, (r+1)·d)}; null beyond the cap. */
    double[] of(int t) {
        return byBlock[t];
    }
}
