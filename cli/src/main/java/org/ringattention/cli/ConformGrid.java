package org.ringattention.cli;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.ringattention.attention.AttentionSpec.CausalAlign;

/**
 * The cases {@code conform} runs: every semantics the engine has (full, causal in both alignments,
 * FlashAttention-style windows, segments, a given scale, alone and combined, with peaky scores)
 * crossed with shapes that trip implementations (head dims 32 to 256, odd ones included; N = 1,
 * primes, N_q ≠ N_k both ways; batch; GQA and MQA). {@code quick} crosses them with five small
 * shapes, {@code standard} adds prime lengths and the large head dims, {@code full} adds lengths
 * up to 1025. Segments need N_q = N_k and are crossed with those shapes only.
 *
 * <p>The score rules (soft cap, ALiBi, sinks, keep masks, biases) and packed sequences (varlen),
 * alone and in the combinations FlashAttention and PyTorch take, are crossed with one shape each
 * in {@code quick} (to keep it under a minute for an interpreted implementation) and with the
 * feature shapes and the larger shapes in {@code standard} and {@code full}; varlen needs a batch
 * of one and skips the other shapes. Every case runs at every dtype: the emulated low-precision
 * baseline applies the same rules.
 */
final class ConformGrid {

    enum Size {
        QUICK, STANDARD, FULL
    }

    private record Shape(int b, int hq, int hkv, int nq, int nk, int d) {
    }

    /** One semantics row: causal, alignment, window L and R, segments, scale (NaN default), peaky, rules. */
    private record Semantics(String key, boolean causal, CausalAlign align, int left, int right, boolean segments,
            double scale, boolean peaky, ConformCase.Rules rules, int quickShape) {
        Semantics(String key, boolean causal, CausalAlign align, int left, int right, boolean segments,
                double scale, boolean peaky) {
            this(key, causal, align, left, right, segments, scale, peaky, ConformCase.Rules.NONE, -1);
        }
    }

    private static ConformCase.Rules rules(double softcap, boolean alibi, boolean sinks, boolean mask, boolean bias,
            boolean varlen) {
        return new ConformCase.Rules(softcap, alibi, sinks, mask, bias, varlen);
    }

    private static final CausalAlign BR = CausalAlign.BOTTOM_RIGHT;
    private static final CausalAlign TL = CausalAlign.TOP_LEFT;
    private static final double DEFAULT = Double.NaN;

    private static final List<Semantics> SEMANTICS = List.of(
            new Semantics("full", false, BR, -1, -1, false, DEFAULT, false),
            new Semantics("causal", true, BR, -1, -1, false, DEFAULT, false),
            new Semantics("causal_tl", true, TL, -1, -1, false, DEFAULT, false),
            new Semantics("sliding4", true, BR, 4, 0, false, DEFAULT, false),
            new Semantics("win5_3", false, BR, 5, 3, false, DEFAULT, false),
            new Semantics("win-1_2_tl", false, TL, -1, 2, false, DEFAULT, false),
            new Semantics("win3_-1", false, BR, 3, -1, false, DEFAULT, false),
            new Semantics("segments", false, BR, -1, -1, true, DEFAULT, false),
            new Semantics("scale", false, BR, -1, -1, false, 0.3, false),
            new Semantics("causal_segments", true, BR, -1, -1, true, DEFAULT, false),
            new Semantics("win4_2_tl_scale", false, TL, 4, 2, false, 0.5, false),
            new Semantics("causal_scale_peaky", true, BR, -1, -1, false, 0.7, true),
            new Semantics("full_peaky", false, BR, -1, -1, false, DEFAULT, true),
            // the score rules and packing: quickShape picks the FEATURE (or VARLEN) shape of the quick grid
            new Semantics("softcap", false, BR, -1, -1, false, DEFAULT, false,
                    rules(1.5, false, false, false, false, false), 0),
            new Semantics("softcap_causal", true, BR, -1, -1, false, DEFAULT, false,
                    rules(1.0, false, false, false, false, false), 1),
            new Semantics("softcap_alibi_causal", true, BR, -1, -1, false, DEFAULT, false,
                    rules(1.5, true, false, false, false, false), 1),
            new Semantics("softcap_bias", false, BR, -1, -1, false, DEFAULT, false,
                    rules(1.0, false, false, false, true, false), 0),
            new Semantics("alibi_causal_tl", true, TL, -1, -1, false, DEFAULT, false,
                    rules(0, true, false, false, false, false), 0),
            new Semantics("sinks_causal", true, BR, -1, -1, false, DEFAULT, false,
                    rules(0, false, true, false, false, false), 1),
            new Semantics("mask_window", false, BR, 6, 2, false, DEFAULT, false,
                    rules(0, false, false, true, false, false), 1),
            new Semantics("mask_bias", false, BR, -1, -1, false, DEFAULT, false,
                    rules(0, false, false, true, true, false), 0),
            new Semantics("varlen", false, BR, -1, -1, false, DEFAULT, false,
                    rules(0, false, false, false, false, true), 0),
            new Semantics("varlen_causal", true, BR, -1, -1, false, DEFAULT, false,
                    rules(0, false, false, false, false, true), 1),
            new Semantics("varlen_win3_1_tl_alibi", false, TL, 3, 1, false, DEFAULT, false,
                    rules(0, true, false, false, false, true), 0),
            new Semantics("varlen_softcap_sinks_mask_bias", false, BR, -1, -1, false, DEFAULT, false,
                    rules(2.0, false, true, true, true, true), 1));

    /** The shapes of the score rules (MQA with Nq < Nk; batch, GQA, Nq > Nk) and of varlen (a batch of one). */
    private static final List<Shape> FEATURE = List.of(
            new Shape(1, 2, 1, 7, 23, 40),
            new Shape(2, 4, 2, 29, 13, 59));
    private static final List<Shape> VARLEN = List.of(
            new Shape(1, 2, 1, 19, 31, 40),
            new Shape(1, 4, 2, 29, 13, 59));

    private static final List<Shape> QUICK = List.of(
            new Shape(1, 2, 2, 17, 17, 32),
            new Shape(1, 2, 1, 7, 23, 40),
            new Shape(2, 4, 2, 29, 13, 59),
            new Shape(1, 4, 2, 23, 23, 111));

    /** Degenerate lengths, crossed with a few semantics only. */
    private static final List<Shape> QUICK_TINY = List.of(
            new Shape(1, 1, 1, 1, 19, 64),
            new Shape(1, 2, 2, 11, 1, 33));
    private static final Set<String> TINY_SEMANTICS = Set.of("full", "causal", "causal_tl", "win5_3");

    private static final List<Shape> STANDARD = List.of(
            new Shape(1, 2, 2, 97, 97, 64),
            new Shape(2, 8, 2, 61, 127, 128),
            new Shape(1, 4, 4, 127, 61, 96),
            new Shape(1, 2, 1, 1, 97, 255),
            new Shape(1, 3, 3, 97, 1, 160),
            new Shape(1, 4, 1, 64, 64, 256),
            new Shape(2, 2, 2, 1, 1, 47));

    private static final List<Shape> FULL = List.of(
            new Shape(1, 2, 2, 1025, 1025, 64),
            new Shape(1, 4, 2, 257, 509, 128),
            new Shape(1, 2, 2, 509, 257, 256),
            new Shape(2, 8, 1, 211, 211, 111));

    private ConformGrid() {
    }

    /**
     * The cases of {@code size}; with {@code only} non-empty, those that have every tag of at least
     * one of its sets (a set is one {@code --only} item, tags joined by '+').
     */
    static List<ConformCase> cases(Size size, List<Set<String>> only) {
        List<ConformCase> all = new ArrayList<>();
        for (Semantics s : SEMANTICS) {
            List<Shape> shapes = new ArrayList<>();
            List<Shape> own = s.rules().varlen() ? VARLEN : FEATURE;
            if (s.quickShape() < 0) {
                shapes.addAll(QUICK);
            } else {
                shapes.add(own.get(s.quickShape()));
            }
            if (TINY_SEMANTICS.contains(s.key())) {
                shapes.addAll(QUICK_TINY);
            }
            if (size != Size.QUICK) {
                if (s.quickShape() >= 0) {
                    shapes.add(own.get(1 - s.quickShape()));
                }
                shapes.addAll(STANDARD);
            }
            if (size == Size.FULL) {
                shapes.addAll(FULL);
            }
            for (Shape sh : shapes) {
                if (s.segments() && sh.nq() != sh.nk() || s.rules().varlen() && sh.b() != 1) {
                    continue;
                }
                String name = String.format("%03d_%s_b%dh%dg%d_q%dk%d_d%d", all.size(), s.key(), sh.b(), sh.hq(),
                        sh.hkv(), sh.nq(), sh.nk(), sh.d());
                long seed = 0x5EED_0000L + name.substring(4).hashCode();
                all.add(new ConformCase(name, sh.b(), sh.hq(), sh.hkv(), sh.nq(), sh.nk(), sh.d(), s.causal(),
                        s.align(), s.left(), s.right(), s.segments(), s.scale(), s.peaky(), s.rules(), seed));
            }
        }
        if (only.isEmpty()) {
            return all;
        }
        return all.stream().filter(c -> only.stream().anyMatch(c.features()::containsAll)).toList();
    }
}
