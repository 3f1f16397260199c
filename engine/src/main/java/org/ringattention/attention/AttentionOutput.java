package org.ringattention.attention;

import org.ringattention.tensor.Tensor;

/**
 * The forward result: O [B, Hq, Nq, d] and LSE [B, Hq, Nq] (natural log, row-major), with how many
 * query×key tiles were computed and how many a mask let the engine skip.
 */
public record AttentionOutput(Tensor out, float[] lse, long tilesComputed, long tilesSkipped) {

    /** LSE of query row i of head (b, h). */
    public float lse(int b, int h, int i) {
        return lse[(b * out.heads() + h) * out.rows() + i];
    }
}
