package org.ringattention.golden;

import java.util.List;
import org.ringattention.golden.GoldenCase.Builder;
import org.ringattention.golden.GoldenCase.Segments;
import org.ringattention.tensor.DType;

/**
 * The cases of the golden set. Each covers something an attention implementation can get wrong:
 * rectangular and degenerate shapes, every mask and their combinations, rows that see no key,
 * MHA/GQA/MQA, odd head dimensions, a custom scale, sharp softmax, batches, float16 and float64
 * inputs, the conformance kit's score rules, and the sinks' gradient (the last cases only: adding it
 * to the older sink cases would change their files). Tensors stay small (the set is a few MB); block sizes include ones that do not divide N
 * and ones larger than N.
 *
 * <p>Changing this list changes the golden data: run {@code ring-attention golden generate} and
 * commit the result (the tests check that the committed files are what the list generates).
 */
public final class GoldenCases {

    private GoldenCases() {
    }

    /** Every case, in manifest order. */
    public static List<GoldenCase> all() {
        return List.of(
                new Builder("tiny_n1_d1", "one query, one key, d = 1: O = v, LSE = scale * q * k", 1001)
                        .lengths(1, 1, 1).blocks(1, 1, 4, 4).build(),
                new Builder("causal_d1", "d = 1, causal: every score is a product of two scalars", 1002)
                        .lengths(29, 29, 1).causal().blocks(1, 1, 4, 7, 32, 32).build(),
                new Builder("full_mha", "multi-head, no mask", 1003)
                        .heads(1, 2, 2).lengths(64, 64, 32).blocks(16, 16, 7, 13, 128, 128).build(),
                new Builder("full_gqa_b2_rect", "batch 2, grouped-query (4 query heads on 2), Nq < Nk, no mask",
                        1004)
                        .heads(2, 4, 2).lengths(70, 90, 24).blocks(16, 32, 9, 11, 70, 90).build(),
                new Builder("causal_gqa_d59", "causal, grouped-query, odd head dimension 59", 1005)
                        .heads(1, 4, 2).lengths(100, 100, 59).causal().blocks(32, 32, 17, 23, 100, 1).build(),
                new Builder("causal_short_queries", "causal with Nq < Nk (bottom-right aligned: the last query"
                        + " sees every key)", 1006)
                        .heads(1, 2, 2).lengths(37, 120, 16).causal().blocks(8, 16, 37, 120, 5, 7).build(),
                new Builder("causal_empty_rows", "causal with Nq > Nk: the first 83 query rows see no key"
                        + " (O = 0, LSE = -inf, zero gradients)", 1007)
                        .heads(1, 2, 1).lengths(120, 37, 16).causal().blocks(16, 16, 13, 5, 128, 64).build(),
                new Builder("window16_mqa", "sliding window 16, multi-query (4 query heads on 1)", 1008)
                        .heads(1, 4, 1).lengths(160, 160, 24).window(16).blocks(32, 32, 15, 17, 160, 160).build(),
                new Builder("window1", "window 1: each query sees only its own key", 1009)
                        .heads(1, 2, 2).lengths(50, 50, 8).window(1).blocks(8, 8, 3, 5, 64, 64).build(),
                new Builder("segments_sorted_int32", "batch 2, packed documents (sorted int32 ids), no causal mask",
                        1010)
                        .heads(2, 2, 2).lengths(150, 150, 16).segments(Segments.SORTED, DType.INT32)
                        .blocks(32, 32, 19, 41, 150, 150).build(),
                new Builder("segments_unsorted_int64", "unsorted int64 segment ids (one beyond int32), no causal"
                        + " mask", 1011)
                        .heads(1, 3, 3).lengths(97, 97, 8).segments(Segments.UNSORTED, DType.INT64)
                        .blocks(16, 16, 7, 13, 97, 97).build(),
                new Builder("causal_segments_b2", "batch 2, causal and packed documents, grouped-query",
                        1012)
                        .heads(2, 4, 2).lengths(128, 128, 32).causal().segments(Segments.SORTED, DType.INT32)
                        .blocks(32, 32, 48, 20, 128, 128).build(),
                new Builder("window_segments_unsorted", "window 12 and unsorted segment ids, grouped-query", 1013)
                        .heads(1, 2, 1).lengths(90, 90, 16).window(12).segments(Segments.UNSORTED, DType.INT32)
                        .blocks(16, 16, 10, 7, 90, 90).build(),
                new Builder("full_gqa_d111", "no mask, grouped-query (4 on 2), odd head dimension 111", 1014)
                        .heads(1, 4, 2).lengths(67, 67, 111).blocks(16, 16, 27, 10, 67, 67).build(),
                new Builder("causal_mqa_d128", "causal, multi-query (3 on 1), d = 128", 1015)
                        .heads(1, 3, 1).lengths(64, 64, 128).causal().blocks(16, 16, 24, 40, 64, 64).build(),
                new Builder("causal_n1025_d4", "causal, N = 1025 (one past a power of two), d = 4", 1016)
                        .lengths(1025, 1025, 4).causal().blocks(128, 128, 100, 37, 1025, 1025).build(),
                new Builder("custom_scale", "scale 0.9 instead of 1/sqrt(16) = 0.25 (sharper softmax), Nq < Nk",
                        1017)
                        .heads(1, 2, 2).lengths(33, 47, 16).scale(0.9).blocks(8, 8, 33, 47, 1, 1).build(),
                new Builder("sharp_queries", "queries x 8: nearly one-hot softmax rows, causal", 1018)
                        .heads(1, 2, 2).lengths(64, 64, 32).causal().queryScale(8).blocks(16, 16, 11, 29, 64, 64)
                        .build(),
                new Builder("float64_inputs", "float64 inputs (the float32 paths round them), causal, Nq < Nk,"
                        + " multi-query", 1019)
                        .heads(1, 2, 1).lengths(48, 56, 20).causal().dtype(DType.FLOAT64).blocks(16, 16, 7, 9, 64, 64)
                        .build(),
                new Builder("float16_inputs", "float16 inputs (exact in float32), no mask", 1020)
                        .heads(1, 2, 2).lengths(40, 40, 16).dtype(DType.FLOAT16).blocks(8, 8, 13, 6, 40, 40)
                        .build(),
                new Builder("top_left_causal_short_queries", "causal aligned top-left with Nq < Nk (PyTorch's"
                        + " is_causal): query i sees keys j <= i", 1021)
                        .heads(1, 2, 2).lengths(37, 120, 16).causal().topLeft().blocks(8, 16, 37, 120, 5, 7).build(),
                new Builder("top_left_causal_tall", "causal aligned top-left with Nq > Nk: no row is empty, the"
                        + " last 44 see every key", 1022)
                        .heads(1, 2, 1).lengths(80, 37, 16).causal().topLeft().blocks(16, 16, 13, 5, 128, 64).build(),
                new Builder("window_left_right_gqa", "window (left 5, right 3), not causal, Nq < Nk bottom-right,"
                        + " grouped-query", 1023)
                        .heads(1, 4, 2).lengths(60, 75, 24).window(5, 3).blocks(16, 16, 7, 9, 60, 75).build(),
                new Builder("window_right_only_top_left", "window (left unbounded, right 4) aligned top-left,"
                        + " Nq > Nk", 1024)
                        .heads(1, 2, 2).lengths(70, 50, 16).window(-1, 4).topLeft().blocks(16, 16, 11, 6, 70, 50)
                        .build(),
                new Builder("window_empty_rows", "window (left 2, right 1) with Nq > Nk bottom-right: the first"
                        + " 29 rows see no key", 1025)
                        .heads(1, 2, 1).lengths(60, 30, 8).window(2, 1).blocks(8, 8, 5, 3, 60, 30).build(),
                new Builder("softcap_sharp", "soft cap 1.5 on sharp scores (queries x 6, most scores saturate the"
                        + " cap), grouped-query", 1026)
                        .heads(1, 4, 2).lengths(48, 48, 32).softcap(1.5).queryScale(6).blocks(16, 16, 7, 9, 48, 48)
                        .build(),
                new Builder("softcap_causal_top_left", "soft cap 30 (Gemma 2's attention cap size), causal aligned"
                        + " top-left, Nq < Nk", 1027)
                        .heads(1, 2, 2).lengths(40, 64, 16).causal().topLeft().softcap(30).blocks(8, 8, 13, 6, 40, 64)
                        .build(),
                new Builder("alibi_causal", "ALiBi slopes [Hq] with a causal mask, Nq < Nk bottom-right", 1028)
                        .heads(1, 4, 4).lengths(50, 70, 16).causal().alibi(GoldenCase.Alibi.HEADS)
                        .blocks(16, 16, 7, 9, 50, 70).build(),
                new Builder("alibi_batch_softcap", "ALiBi slopes [B, Hq], no mask, after a soft cap of 2, batch 2,"
                        + " grouped-query", 1029)
                        .heads(2, 4, 2).lengths(33, 41, 24).softcap(2).alibi(GoldenCase.Alibi.BATCH_HEADS)
                        .blocks(8, 16, 5, 7, 33, 41).build(),
                new Builder("sinks_causal_empty_rows", "attention sinks with causal Nq > Nk: the first 20 rows see"
                        + " no key (O = 0, LSE = sink)", 1030)
                        .heads(1, 4, 2).lengths(50, 30, 16).causal().sinks(0.5).blocks(8, 8, 7, 5, 50, 30).build(),
                new Builder("sinks_dominant_window", "sink logits around 4 that take most of each row's weight,"
                        + " window (left 6, right 2), ALiBi, soft cap 5", 1031)
                        .heads(1, 2, 1).lengths(64, 64, 24).window(6, 2).sinks(4).alibi(GoldenCase.Alibi.HEADS)
                        .softcap(5).blocks(16, 16, 9, 11, 64, 64).build(),
                new Builder("mask_per_head_rect", "bool keep mask [B, Hq, Nq, Nk] (some rows keep nothing), batch 2,"
                        + " grouped-query, Nq > Nk", 1032)
                        .heads(2, 4, 2).lengths(40, 30, 16).mask(4).blocks(8, 8, 7, 5, 40, 30).build(),
                new Builder("mask_bias_causal_top_left", "keep mask [1, 1, Nq, Nk] and bias [1, Hq, Nq, Nk] with"
                        + " a causal mask aligned top-left, Nq < Nk", 1033)
                        .heads(1, 2, 2).lengths(36, 50, 16).causal().topLeft().mask(1).bias(3)
                        .blocks(8, 16, 5, 7, 36, 50).build(),
                new Builder("bias_alibi_softcap_sinks", "bias [B, 1, Nq, Nk] after ALiBi and a soft cap of 3, with"
                        + " sinks, batch 2", 1034)
                        .heads(2, 2, 1).lengths(30, 30, 24).softcap(3).alibi(GoldenCase.Alibi.HEADS).sinks(1)
                        .bias(2).blocks(8, 8, 7, 11, 30, 30).build(),
                new Builder("varlen_causal_mixed", "packed sequences (cu_seqlens) with causal bottom-right per"
                        + " sequence: Nq < Nk, Nq > Nk (rows that see no key), an empty query side, Nq = Nk", 1035)
                        .heads(1, 4, 2).lengths(44, 52, 16).causal()
                        .varlen(List.of(0, 6, 20, 20, 44), List.of(0, 15, 19, 27, 52)).blocks(8, 8, 5, 7, 44, 52)
                        .build(),
                new Builder("varlen_window_top_left_alibi", "packed sequences aligned top-left with window (left 4,"
                        + " right 2), ALiBi [Hq] distances within each sequence, a sequence without keys", 1036)
                        .heads(1, 2, 2).lengths(40, 34, 24).window(4, 2).topLeft().alibi(GoldenCase.Alibi.HEADS)
                        .varlen(List.of(0, 13, 21, 40), List.of(0, 9, 9, 34)).blocks(8, 8, 7, 6, 40, 34).build(),
                new Builder("varlen_softcap_sinks_bias", "packed sequences, full attention within each, soft cap 4,"
                        + " sinks, keep mask [1, 1, Nq, Nk] and bias [1, Hq, Nq, Nk] on the packed pairs, MQA", 1037)
                        .heads(1, 3, 1).lengths(30, 30, 16).softcap(4).sinks(0.5).mask(1).bias(3)
                        .varlen(List.of(0, 11, 30), List.of(0, 17, 30)).blocks(8, 8, 7, 5, 30, 30).build(),
                new Builder("sinks_grad_gqa_batch", "the sinks' gradient stored (dsinks): batch 2 (summed over it),"
                        + " grouped-query (each query head of a group its own sink), causal Nq > Nk: the first 12 rows"
                        + " see no key and add nothing", 1038)
                        .heads(2, 4, 2).lengths(45, 33, 20).causal().sinks(0.25).sinkGradient()
                        .blocks(8, 8, 7, 5, 45, 33).build(),
                new Builder("varlen_sinks_grad_window_mqa", "the sinks' gradient stored (dsinks) with packed"
                        + " sequences, window (left 5, right 1) bottom-right per sequence (4 rows see no key), soft"
                        + " cap 2.5, a sequence without queries, MQA", 1039)
                        .heads(1, 3, 1).lengths(31, 37, 16).window(5, 1).softcap(2.5).sinks(-0.5).sinkGradient()
                        .varlen(List.of(0, 9, 9, 31), List.of(0, 12, 20, 37)).blocks(8, 8, 5, 7, 31, 37).build());
    }
}
