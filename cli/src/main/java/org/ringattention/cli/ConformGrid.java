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
 */
final class ConformGrid {

    enum Size {
        QUICK, STANDARD, FULL
    }

    private record Shape(int b, int hq, int hkv, int nq, int nk, int d) {
    }

    /** One semantics row: causal, alignment, window L and R, segments, scale (NaN default), peaky. */
    private record Semantics(String key, boolean causal, CausalAlign align, int left, int right, boolean segments,
            double scale, boolean peaky) {
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
            new Semantics("full_peaky", false, BR, -1, -1, false, DEFAULT, true));

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
            List<Shape> shapes = new ArrayList<>(QUICK);
            if (TINY_SEMANTICS.contains(s.key())) {
                shapes.addAll(QUICK_TINY);
            }
            if (size != Size.QUICK) {
                shapes.addAll(STANDARD);
            }
            if (size == Size.FULL) {
                shapes.addAll(FULL);
            }
            for (Shape sh : shapes) {
                if (s.segments() && sh.nq() != sh.nk()) {
                    continue;
                }
                String name = String.format("%03d_%s_b%dh%dg%d_q%dk%d_d%d", all.size(), s.key(), sh.b(), sh.hq(),
                        sh.hkv(), sh.nq(), sh.nk(), sh.d());
                long seed = 0x5EED_0000L + name.substring(4).hashCode();
                all.add(new ConformCase(name, sh.b(), sh.hq(), sh.hkv(), sh.nq(), sh.nk(), sh.d(), s.causal(),
                        s.align(), s.left(), s.right(), s.segments(), s.scale(), s.peaky(), seed));
            }
        }
        if (only.isEmpty()) {
            return all;
        }
        return all.stream().filter(c -> only.stream().anyMatch(c.features()::containsAll)).toList();
    }
}
