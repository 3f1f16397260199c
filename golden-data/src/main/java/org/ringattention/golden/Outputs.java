package org.ringattention.golden;

/**
 * O [B, Hq, Nq, d], LSE [B, Hq, Nq], dQ, dK, dV (shaped like q, k, v) and, for the cases that
 * store it, ∂L/∂sink [Hq] (else null), as doubles, row-major, from any path (float32 results are
 * held exactly).
 */
public record Outputs(double[] o, double[] lse, double[] dq, double[] dk, double[] dv, double[] dsinks) {

    /** Without the sinks' gradient. */
    public Outputs(double[] o, double[] lse, double[] dq, double[] dk, double[] dv) {
        this(o, lse, dq, dk, dv, null);
    }

    public double[] get(Output which) {
        return switch (which) {
            case O -> o;
            case LSE -> lse;
            case DQ -> dq;
            case DK -> dk;
            case DV -> dv;
            case DSINKS -> dsinks;
        };
    }
}
