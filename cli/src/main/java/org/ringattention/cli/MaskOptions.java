package org.ringattention.cli;

import java.io.IOException;
import java.nio.file.Path;
import org.ringattention.attention.AttentionShape;
import org.ringattention.attention.AttentionSpec;
import org.ringattention.attention.SegmentIds;
import picocli.CommandLine.Option;

/**
 * The options that say which keys a query sees and how scores are scaled, as {@code attend}
 * takes them: commands that must agree with {@code attend} on the mask (verify) share this mixin,
 * so a new mask option added here reaches all of them. The spec is built from
 * {@link AttentionSpec#DEFAULT}.
 */
final class MaskOptions {

    @Option(names = "--causal", description = "Causal mask, bottom-right aligned: query i sees keys j <= i + Nk - Nq.")
    boolean causal;

    @Option(names = "--window", paramLabel = "W", description = "Sliding window (implies --causal): query at p sees"
            + " keys p - W < j <= p.")
    Integer window;

    @Option(names = "--segments", paramLabel = "SEG.npy", description = "Segment ids [B, N] (int32/int64): a query"
            + " sees only keys of its own segment. Needs Nq = Nk.")
    Path segments;

    @Option(names = "--cu-seqlens-q", paramLabel = "CQ.npy", description = "Packed sequences (FlashAttention's"
            + " varlen): cumulative query lengths [S+1] (int32/int64, 0 first, Nq last), as for attend."
            + " Needs --cu-seqlens-k.")
    Path cuSeqlensQ;

    @Option(names = "--cu-seqlens-k", paramLabel = "CK.npy", description = "Cumulative key lengths [S+1] of the"
            + " packed sequences (int32/int64, 0 first, Nk last). Needs --cu-seqlens-q.")
    Path cuSeqlensK;

    @Option(names = "--scale", paramLabel = "S", description = "Score scale (default 1/sqrt(d)).")
    Double scale;

    /** Refuses values no spec can hold, naming the option. */
    void check() {
        if (window != null && window < 1) {
            throw CliException.usage("--window must be >= 1, got " + window);
        }
        if (scale != null && (!Double.isFinite(scale) || scale == 0)) {
            throw CliException.usage("--scale must be a finite non-zero number, got " + scale);
        }
        if ((cuSeqlensQ == null) != (cuSeqlensK == null)) {
            throw CliException.usage(cuSeqlensQ == null ? "--cu-seqlens-k needs --cu-seqlens-q"
                    : "--cu-seqlens-q needs --cu-seqlens-k");
        }
        if (cuSeqlensQ != null && segments != null) {
            throw CliException.usage("--cu-seqlens-q and --segments cannot be combined: both pack sequences; give one");
        }
    }

    /** The spec of these options for {@code shape}; reads the segment ids file. */
    AttentionSpec spec(AttentionShape shape, Path q, Path k) throws IOException {
        AttentionSpec attention = AttentionSpec.DEFAULT.withCausal(causal);
        if (window != null) {
            attention = attention.withWindow(window);
        }
        if (scale != null) {
            attention = attention.withScale(scale);
        }
        if (segments != null) {
            if (shape.qLen() != shape.kvLen()) {
                throw CliException.data(segments + ": segment ids need Nq = Nk, but " + q + " has Nq = " + shape.qLen()
                        + " and " + k + " has Nk = " + shape.kvLen());
            }
            attention = attention.withSegments(NpyInputs.segments(segments, shape.batch(), shape.qLen()));
        }
        if (cuSeqlensQ != null) {
            attention = attention.withVarlen(NpyInputs.sequenceLengths(cuSeqlensQ, cuSeqlensK, q, shape));
        }
        return attention;
    }
}
