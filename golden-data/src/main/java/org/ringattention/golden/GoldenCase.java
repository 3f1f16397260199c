package org.ringattention.golden;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.ringattention.attention.AlibiSlopes;
import org.ringattention.attention.AttentionSinks;
import org.ringattention.attention.AttentionShape;
import org.ringattention.attention.AttentionSpec;
import org.ringattention.attention.SegmentIds;
import org.ringattention.attention.SequenceLengths;
import org.ringattention.tensor.DType;

/**
 * The definition of one golden case: everything its data is generated from (shape, mask, scale,
 * input dtype, seed) and the engine configurations it is checked with (block sizes, threads, ring
 * devices and layouts).
 *
 * @param name          folder name under {@code cases/}: letters, digits, '_' and '-'
 * @param description   one line for people
 * @param causalAlign   where query rows sit (bottom-right, the default, or top-left)
 * @param windowLeft    window left side L (−1 unbounded); derived from {@code window} for a causal window
 * @param windowRight   window right side R (−1 unbounded); 0 when causal
 * @param softcap       soft cap C of the scaled scores, 0 for none
 * @param alibi         which ALiBi slopes the case has ({@link #alibiSlopes})
 * @param sinkShift     NaN for no attention sinks, else the shift of the sink logits ({@link #sinkLogits})
 * @param sinkGradient  whether the case stores ∂L/∂sink ({@code dsinks.npy}; with sinks only: the
 *                      cases made before it do not, so that their files stay as they were)
 * @param maskKind      0 for no keep mask, else its broadcast shape ({@link #pairShape})
 * @param biasKind      0 for no bias, else its broadcast shape ({@link #pairShape})
 * @param cuSeqlensQ    cumulative query lengths [S + 1] of packed sequences (varlen), empty for none
 * @param cuSeqlensK    cumulative key lengths [S + 1], empty for none
 * @param segments      how segment ids are drawn, or {@link Segments#NONE}
 * @param segmentDtype  int32 or int64 (ignored without segments)
 * @param scale         score scale, NaN for the default 1/√d
 * @param dtype         dtype of the stored inputs q, k, v, dO: float16, float32 or float64
 * @param queryScale    the standard-normal queries are multiplied by this (sharper softmax)
 */
public record GoldenCase(String name, String description, int batch, int qHeads, int kvHeads, int qLen, int kvLen,
        int dim, boolean causal, int window, AttentionSpec.CausalAlign causalAlign, int windowLeft, int windowRight,
        double softcap, Alibi alibi, double sinkShift, boolean sinkGradient, int maskKind, int biasKind, List<Integer> cuSeqlensQ,
        List<Integer> cuSeqlensK, Segments segments, DType segmentDtype, double scale, DType dtype,
        long seed, double queryScale, List<Block> blocks, List<Integer> threads, Ring ring) {

    /** Largest tensor (elements) and score matrix (Nq·Nk) of a case: a golden set stays small. */
    public static final long MAX_ELEMENTS = 1 << 22;

    /** How segment ids are drawn. */
    public enum Segments {
        /** No segment ids. */
        NONE("none"),
        /** Runs of consecutive tokens, ids increasing: packed documents. */
        SORTED("sorted"),
        /** Each token's id drawn at random from a few values, not sorted. */
        UNSORTED("unsorted");

        private final String json;

        Segments(String json) {
            this.json = json;
        }

        public String json() {
            return json;
        }

        static Segments of(String s) {
            for (Segments x : values()) {
                if (x.json.equals(s)) {
                    return x;
                }
            }
            throw new IllegalArgumentException("segments must be none, sorted or unsorted, got '" + s + "'");
        }
    }

    /** Which ALiBi slopes a case has. */
    public enum Alibi {
        /** None. */
        NONE("none"),
        /** [Hq]: slope(h) = 2^(−8(h+1)/Hq), the ALiBi paper's. */
        HEADS("heads"),
        /** [B, Hq]: slope(b, h) = (1 + b) · 2^(−8(h+1)/Hq). */
        BATCH_HEADS("batch_heads");

        private final String json;

        Alibi(String json) {
            this.json = json;
        }

        public String json() {
            return json;
        }

        static Alibi of(String s) {
            for (Alibi x : values()) {
                if (x.json.equals(s)) {
                    return x;
                }
            }
            throw new IllegalArgumentException("alibi must be none, heads or batch_heads, got '" + s + "'");
        }
    }

    /** A block configuration: query block size × key/value block size. */
    public record Block(int q, int kv) {
        public Block {
            if (q < 1 || kv < 1) {
                throw new IllegalArgumentException("block sizes must be >= 1, got " + q + "x" + kv);
            }
        }

        @Override
        public String toString() {
            return q + "x" + kv;
        }
    }

    /** The ring configurations to check: device counts and sequence layouts. */
    public record Ring(List<Integer> devices, List<String> layouts) {
        public Ring {
            devices = List.copyOf(devices);
            layouts = List.copyOf(layouts);
        }

        /** Ring sizes checked by default (those above the shorter sequence length are dropped). */
        static final List<Integer> DEVICES = List.of(1, 2, 3, 5);

        /** Every layout. */
        static final List<String> LAYOUTS = List.of("contiguous", "zigzag", "striped");

        /** The default ring sizes that fit sequences of {@code shortest} tokens, every layout. */
        static Ring upTo(int shortest) {
            return new Ring(DEVICES.stream().filter(p -> p <= shortest).toList(), LAYOUTS);
        }
    }

    public GoldenCase {
        Objects.requireNonNull(name, "name");
        if (!name.matches("[A-Za-z0-9_-]{1,64}")) {
            throw new IllegalArgumentException("case name must be 1 to 64 letters, digits, '_' or '-', got '" + name
                    + "'");
        }
        if (dtype != DType.FLOAT16 && dtype != DType.FLOAT32 && dtype != DType.FLOAT64) {
            throw new IllegalArgumentException("input dtype must be float16, float32 or float64, got " + dtype);
        }
        if (segments != Segments.NONE && segmentDtype != DType.INT32 && segmentDtype != DType.INT64) {
            throw new IllegalArgumentException("segment dtype must be int32 or int64, got " + segmentDtype);
        }
        if (segments != Segments.NONE && qLen != kvLen) {
            throw new IllegalArgumentException("segments need Nq = Nk, got " + qLen + " and " + kvLen);
        }
        if (!(queryScale > 0) || !Double.isFinite(queryScale)) {
            throw new IllegalArgumentException("query scale must be finite and > 0, got " + queryScale);
        }
        if ((long) batch * qHeads * Math.max(qLen, kvLen) * dim > MAX_ELEMENTS || (long) qLen * kvLen > MAX_ELEMENTS) {
            throw new IllegalArgumentException("case " + name + " is too large for the golden set (at most "
                    + MAX_ELEMENTS + " elements per tensor and Nq*Nk <= " + MAX_ELEMENTS + ")");
        }
        new AttentionShape(batch, qHeads, kvHeads, qLen, kvLen, dim); // validates the sizes
        AttentionSpec valid = AttentionSpec.DEFAULT.withScale(scale).withCausalAlign(causalAlign)
                .withWindow(windowLeft, windowRight).withCausal(causal || window > 0).withSoftcap(softcap);
        Objects.requireNonNull(alibi, "alibi");
        if (maskKind < 0 || maskKind > 4 || biasKind < 0 || biasKind > 4) {
            throw new IllegalArgumentException("mask and bias kinds are 0 (none) to 4, got " + maskKind + ", "
                    + biasKind);
        }
        cuSeqlensQ = List.copyOf(cuSeqlensQ);
        cuSeqlensK = List.copyOf(cuSeqlensK);
        if (!cuSeqlensQ.isEmpty() || !cuSeqlensK.isEmpty()) {
            SequenceLengths.of(longs(cuSeqlensQ), longs(cuSeqlensK))
                    .check(new AttentionShape(batch, qHeads, kvHeads, qLen, kvLen, dim));
            if (segments != Segments.NONE) {
                throw new IllegalArgumentException("case " + name + ": segments and cu_seqlens both pack sequences");
            }
        }
        if (Double.isInfinite(sinkShift)) {
            throw new IllegalArgumentException("sink shift must be finite (or NaN for no sinks), got " + sinkShift);
        }
        if (sinkGradient && Double.isNaN(sinkShift)) {
            throw new IllegalArgumentException("case " + name + ": a sink gradient needs sinks");
        }
        if (window > 0) {
            valid = valid.withWindow(window); // validates scale and window
        }
        causal = valid.causal();
        window = valid.window();
        causalAlign = valid.causalAlign();
        windowLeft = valid.windowLeft();
        windowRight = valid.windowRight();
        if (blocks.isEmpty() || threads.isEmpty()) {
            throw new IllegalArgumentException("case " + name + " needs at least one block size and thread count");
        }
        for (int t : threads) {
            if (t < 1) {
                throw new IllegalArgumentException("thread counts must be >= 1, got " + t);
            }
        }
        blocks = List.copyOf(blocks);
        threads = List.copyOf(threads);
        Objects.requireNonNull(ring, "ring");
    }

    public AttentionShape shape() {
        return new AttentionShape(batch, qHeads, kvHeads, qLen, kvLen, dim);
    }

    /** The attention spec, with {@code ids} as the segment ids (null without segments). */
    public AttentionSpec spec(SegmentIds ids) {
        AttentionSpec s = AttentionSpec.DEFAULT.withScale(scale).withCausalAlign(causalAlign)
                .withWindow(windowLeft, windowRight).withSegments(ids).withSoftcap(softcap)
                .withVarlen(sequenceLengths());
        if (hasSinks()) {
            s = s.withSinks(AttentionSinks.of(sinkLogits()));
        }
        return alibi == Alibi.NONE ? s : s.withAlibi(alibi == Alibi.HEADS ? AlibiSlopes.perHead(alibiSlopes())
                : AlibiSlopes.perBatchAndHead(alibiSlopes(), batch, qHeads));
    }

    /** Whether the case packs variable-length sequences (cu_seqlens). */
    public boolean hasVarlen() {
        return !cuSeqlensQ.isEmpty();
    }

    /** The packed sequences of a varlen case, or null. */
    public SequenceLengths sequenceLengths() {
        return hasVarlen() ? SequenceLengths.of(longs(cuSeqlensQ), longs(cuSeqlensK)) : null;
    }

    static long[] longs(List<Integer> x) {
        return x.stream().mapToLong(Integer::longValue).toArray();
    }

    /** The ALiBi slopes, [Hq] or [B, Hq] row-major ({@link Alibi}), or null. */
    public double[] alibiSlopes() {
        if (alibi == Alibi.NONE) {
            return null;
        }
        int rows = alibi == Alibi.HEADS ? 1 : batch;
        double[] x = new double[rows * qHeads];
        for (int b = 0; b < rows; b++) {
            for (int h = 0; h < qHeads; h++) {
                x[b * qHeads + h] = (1 + b) * Math.pow(2, -8.0 * (h + 1) / qHeads);
            }
        }
        return x;
    }

    /**
     * The shape of a keep mask or bias of broadcast kind 1 [1, 1, Nq, Nk], 2 [B, 1, Nq, Nk],
     * 3 [1, Hq, Nq, Nk] or 4 [B, Hq, Nq, Nk].
     */
    public long[] pairShape(int kind) {
        return new long[] {kind == 2 || kind == 4 ? batch : 1, kind >= 3 ? qHeads : 1, qLen, kvLen};
    }

    public boolean hasSinks() {
        return !Double.isNaN(sinkShift);
    }

    /** The reference outputs the case stores: {@link Output#EVERY_CASE}, then dSinks when it has a sink gradient. */
    public List<Output> outputs() {
        if (!sinkGradient) {
            return Output.EVERY_CASE;
        }
        List<Output> x = new ArrayList<>(Output.EVERY_CASE);
        x.add(Output.DSINKS);
        return List.copyOf(x);
    }

    /** The shape of output {@code o}'s file. */
    public long[] outputShape(Output o) {
        return switch (o) {
            case O, DQ -> qShape();
            case LSE -> lseShape();
            case DK, DV -> kvShape();
            case DSINKS -> new long[] {qHeads};
        };
    }

    /** The sink logits [Hq]: sinkShift + 0.75·(h − (Hq − 1)/2), or null without sinks. */
    public double[] sinkLogits() {
        if (!hasSinks()) {
            return null;
        }
        double[] x = new double[qHeads];
        for (int h = 0; h < qHeads; h++) {
            x[h] = sinkShift + 0.75 * (h - (qHeads - 1) / 2.0);
        }
        return x;
    }

    public long[] alibiShape() {
        return alibi == Alibi.HEADS ? new long[] {qHeads} : new long[] {batch, qHeads};
    }

    /** The scale in force: the given one, or 1/√d. */
    public double effectiveScale() {
        return Double.isNaN(scale) ? 1.0 / Math.sqrt(dim) : scale;
    }

    public boolean hasSegments() {
        return segments != Segments.NONE;
    }

    public long[] qShape() {
        return new long[] {batch, qHeads, qLen, dim};
    }

    public long[] kvShape() {
        return new long[] {batch, kvHeads, kvLen, dim};
    }

    public long[] lseShape() {
        return new long[] {batch, qHeads, qLen};
    }

    public long[] segmentShape() {
        return new long[] {batch, qLen};
    }

    /** Whether the manifest names the alignment and window sides (the older cases do not). */
    private boolean namesSides() {
        return causalAlign != AttentionSpec.CausalAlign.BOTTOM_RIGHT || !causal && (windowLeft >= 0 || windowRight >= 0);
    }

    /** The mask in words: "full", "causal", "window=16", "window=(3, 2)", with " top-left", "+segments(sorted)". */
    public String maskString() {
        String m = window > 0 ? "window=" + window : causal ? "causal"
                : windowLeft >= 0 || windowRight >= 0 ? "window=(" + windowLeft + ", " + windowRight + ")" : "full";
        if (causalAlign == AttentionSpec.CausalAlign.TOP_LEFT) {
            m += " top-left";
        }
        if (softcap > 0) {
            m += " softcap=" + softcap;
        }
        if (alibi != Alibi.NONE) {
            m += " alibi(" + alibi.json() + ")";
        }
        if (hasSinks()) {
            m += " sinks";
        }
        if (maskKind > 0) {
            m += " mask" + java.util.Arrays.toString(pairShape(maskKind));
        }
        if (biasKind > 0) {
            m += " bias" + java.util.Arrays.toString(pairShape(biasKind));
        }
        if (hasVarlen()) {
            m += " varlen(" + (cuSeqlensQ.size() - 1) + ")";
        }
        return hasSegments() ? m + "+segments(" + segments.json() + ")" : m;
    }

    /** The definition as manifest members (the generated parts, files and bounds, come separately). */
    Map<String, Object> toJson() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("name", name);
        m.put("description", description);
        Map<String, Object> shape = new LinkedHashMap<>();
        shape.put("batch", batch);
        shape.put("q_heads", qHeads);
        shape.put("kv_heads", kvHeads);
        shape.put("q_len", qLen);
        shape.put("kv_len", kvLen);
        shape.put("dim", dim);
        m.put("shape", shape);
        Map<String, Object> mask = new LinkedHashMap<>();
        mask.put("causal", causal);
        mask.put("window", window);
        if (namesSides()) {
            mask.put("causal_align", causalAlign == AttentionSpec.CausalAlign.TOP_LEFT ? "top_left" : "bottom_right");
            mask.put("window_left", windowLeft);
            mask.put("window_right", windowRight);
        }
        if (softcap > 0) {
            mask.put("softcap", softcap);
        }
        if (alibi != Alibi.NONE) {
            mask.put("alibi", alibi.json());
        }
        if (hasSinks()) {
            mask.put("sink_shift", sinkShift);
        }
        if (maskKind > 0) {
            mask.put("mask_kind", maskKind);
        }
        if (biasKind > 0) {
            mask.put("bias_kind", biasKind);
        }
        if (hasVarlen()) {
            mask.put("cu_seqlens_q", new ArrayList<Object>(cuSeqlensQ));
            mask.put("cu_seqlens_k", new ArrayList<Object>(cuSeqlensK));
        }
        mask.put("segments", segments.json());
        if (hasSegments()) {
            mask.put("segment_dtype", segmentDtype.numpyName());
        }
        m.put("mask", mask);
        m.put("scale", effectiveScale());
        m.put("scale_is_default", Double.isNaN(scale));
        m.put("dtype", dtype.numpyName());
        m.put("seed", seed);
        m.put("query_scale", queryScale);
        if (sinkGradient) {
            m.put("sink_gradient", true);
        }
        List<Object> bl = new ArrayList<>();
        for (Block b : blocks) {
            bl.add(List.of(b.q(), b.kv()));
        }
        m.put("blocks", bl);
        m.put("threads", new ArrayList<Object>(threads));
        Map<String, Object> r = new LinkedHashMap<>();
        r.put("devices", new ArrayList<Object>(ring.devices()));
        r.put("layouts", new ArrayList<Object>(ring.layouts()));
        m.put("ring", r);
        return m;
    }

    /** Reads the definition members of a manifest case; throws IllegalArgumentException naming the member. */
    static GoldenCase fromJson(Map<String, Object> m) {
        JsonFields f = new JsonFields(m, "case");
        String name = f.string("name");
        f = new JsonFields(m, "case '" + name + "'");
        JsonFields shape = f.object("shape");
        JsonFields mask = f.object("mask");
        Segments seg = Segments.of(mask.string("segments"));
        DType segDtype = seg == Segments.NONE ? DType.INT32 : dtype(mask.string("segment_dtype"), "segment_dtype");
        boolean isDefault = f.bool("scale_is_default");
        double scale = f.number("scale");
        List<Block> blocks = new ArrayList<>();
        for (Object o : f.list("blocks")) {
            if (!(o instanceof List<?> pair) || pair.size() != 2 || !(pair.get(0) instanceof Long q)
                    || !(pair.get(1) instanceof Long kv)) {
                throw new IllegalArgumentException(f.where() + ": 'blocks' must be a list of [block_q, block_kv]"
                        + " pairs of integers");
            }
            blocks.add(new Block(JsonFields.toInt(q, "blocks"), JsonFields.toInt(kv, "blocks")));
        }
        List<Integer> threads = new ArrayList<>();
        for (Object o : f.list("threads")) {
            if (!(o instanceof Long t)) {
                throw new IllegalArgumentException(f.where() + ": 'threads' must be a list of integers");
            }
            threads.add(JsonFields.toInt(t, "threads"));
        }
        JsonFields ring = f.object("ring");
        List<Integer> devices = new ArrayList<>();
        for (Object o : ring.list("devices")) {
            if (!(o instanceof Long d)) {
                throw new IllegalArgumentException(f.where() + ": 'ring.devices' must be a list of integers");
            }
            devices.add(JsonFields.toInt(d, "ring.devices"));
        }
        List<String> layouts = new ArrayList<>();
        for (Object o : ring.list("layouts")) {
            if (!(o instanceof String s)) {
                throw new IllegalArgumentException(f.where() + ": 'ring.layouts' must be a list of strings");
            }
            layouts.add(s);
        }
        GoldenCase c = new GoldenCase(name, f.string("description"), shape.integer("batch"),
                shape.integer("q_heads"), shape.integer("kv_heads"), shape.integer("q_len"), shape.integer("kv_len"),
                shape.integer("dim"), mask.bool("causal"), mask.integer("window"),
                mask.has("causal_align") ? AttentionSpec.CausalAlign.parse(mask.string("causal_align"))
                        : AttentionSpec.CausalAlign.BOTTOM_RIGHT,
                mask.has("window_left") ? mask.integer("window_left") : -1,
                mask.has("window_right") ? mask.integer("window_right") : -1,
                mask.has("softcap") ? mask.number("softcap") : 0,
                mask.has("alibi") ? Alibi.of(mask.string("alibi")) : Alibi.NONE,
                mask.has("sink_shift") ? mask.number("sink_shift") : Double.NaN,
                f.has("sink_gradient") && f.bool("sink_gradient"),
                mask.has("mask_kind") ? mask.integer("mask_kind") : 0,
                mask.has("bias_kind") ? mask.integer("bias_kind") : 0, ints(mask, "cu_seqlens_q"),
                ints(mask, "cu_seqlens_k"), seg, segDtype,
                isDefault ? Double.NaN : scale, dtype(f.string("dtype"), "dtype"), f.longValue("seed"),
                f.number("query_scale"), blocks, threads, new Ring(devices, layouts));
        if (isDefault && scale != c.effectiveScale()) {
            throw new IllegalArgumentException(f.where() + ": 'scale' is " + scale + " but the default 1/sqrt("
                    + c.dim() + ") is " + c.effectiveScale());
        }
        return c;
    }

    /** An optional list of integers of the mask object (empty when absent). */
    private static List<Integer> ints(JsonFields mask, String member) {
        List<Integer> x = new ArrayList<>();
        if (mask.has(member)) {
            for (Object o : mask.list(member)) {
                if (!(o instanceof Long n)) {
                    throw new IllegalArgumentException(mask.where() + ": '" + member + "' must be a list of integers");
                }
                x.add(JsonFields.toInt(n, member));
            }
        }
        return x;
    }

    private static DType dtype(String s, String member) {
        for (DType t : DType.values()) {
            if (t.numpyName().equals(s)) {
                return t;
            }
        }
        throw new IllegalArgumentException("'" + member + "' is not a known dtype: '" + s + "'");
    }

    /** Builds case definitions with the defaults of the golden set. */
    static final class Builder {
        private final String name;
        private final String description;
        private int batch = 1;
        private int qHeads = 1;
        private int kvHeads = 1;
        private int qLen;
        private int kvLen;
        private int dim;
        private boolean causal;
        private int window;
        private AttentionSpec.CausalAlign causalAlign = AttentionSpec.CausalAlign.BOTTOM_RIGHT;
        private int windowLeft = -1;
        private int windowRight = -1;
        private double softcap;
        private Alibi alibi = Alibi.NONE;
        private double sinkShift = Double.NaN;
        private boolean sinkGradient;
        private int maskKind;
        private int biasKind;
        private List<Integer> cuSeqlensQ = List.of();
        private List<Integer> cuSeqlensK = List.of();
        private Segments segments = Segments.NONE;
        private DType segmentDtype = DType.INT32;
        private double scale = Double.NaN;
        private DType dtype = DType.FLOAT32;
        private long seed;
        private double queryScale = 1;
        private final List<Block> blocks = new ArrayList<>();
        private List<Integer> threads = List.of(1, 2);

        Builder(String name, String description, long seed) {
            this.name = name;
            this.description = description;
            this.seed = seed;
        }

        Builder heads(int b, int hq, int hkv) {
            batch = b;
            qHeads = hq;
            kvHeads = hkv;
            return this;
        }

        Builder lengths(int nq, int nk, int d) {
            qLen = nq;
            kvLen = nk;
            dim = d;
            return this;
        }

        Builder causal() {
            causal = true;
            return this;
        }

        Builder window(int w) {
            window = w;
            causal = true;
            return this;
        }

        /** FlashAttention's window_size (left, right); right 0 is causal. */
        Builder window(int left, int right) {
            windowLeft = left;
            windowRight = right;
            return this;
        }

        Builder softcap(double c) {
            softcap = c;
            return this;
        }

        Builder alibi(Alibi a) {
            alibi = a;
            return this;
        }

        Builder sinks(double shift) {
            sinkShift = shift;
            return this;
        }

        /** Stores ∂L/∂sink too (dsinks.npy). */
        Builder sinkGradient() {
            sinkGradient = true;
            return this;
        }

        Builder mask(int kind) {
            maskKind = kind;
            return this;
        }

        Builder bias(int kind) {
            biasKind = kind;
            return this;
        }

        /** Packed sequences: cumulative query and key lengths, [S + 1] each. */
        Builder varlen(List<Integer> cq, List<Integer> ck) {
            cuSeqlensQ = cq;
            cuSeqlensK = ck;
            return this;
        }

        Builder topLeft() {
            causalAlign = AttentionSpec.CausalAlign.TOP_LEFT;
            return this;
        }

        Builder segments(Segments s, DType t) {
            segments = s;
            segmentDtype = t;
            return this;
        }

        Builder scale(double s) {
            scale = s;
            return this;
        }

        Builder dtype(DType t) {
            dtype = t;
            return this;
        }

        Builder queryScale(double s) {
            queryScale = s;
            return this;
        }

        Builder blocks(int... qkv) {
            for (int i = 0; i < qkv.length; i += 2) {
                blocks.add(new Block(qkv[i], qkv[i + 1]));
            }
            return this;
        }

        Builder threads(Integer... t) {
            threads = List.of(t);
            return this;
        }

        GoldenCase build() {
            return new GoldenCase(name, description, batch, qHeads, kvHeads, qLen, kvLen, dim, causal, window,
                    causalAlign, windowLeft, windowRight, softcap, alibi, sinkShift, sinkGradient, maskKind, biasKind, cuSeqlensQ,
                    cuSeqlensK, segments, segmentDtype, scale, dtype, seed, queryScale, blocks, threads,
                    Ring.upTo(Math.min(qLen, kvLen)));
        }
    }
}
