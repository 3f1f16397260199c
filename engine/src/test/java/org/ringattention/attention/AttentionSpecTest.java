package org.ringattention.attention;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.ringattention.attention.AttentionSpec.CausalAlign;

/**
 * {@link AttentionSpec} on its own: how the window forms (W, L/R, causal) normalise into one
 * another, what is refused with which message, the scale in force, and the text reports print.
 */
class AttentionSpecTest {

    private static final AttentionSpec D = AttentionSpec.DEFAULT;

    @Test
    void windowFormsNormalise() {
        AttentionSpec w = D.withWindow(5);
        assertTrue(w.causal());
        assertEquals(4, w.windowLeft());
        assertEquals(0, w.windowRight());
        assertEquals(5, w.window());
        assertEquals(1, D.withWindow(1).window(), "W = 1: each query sees only its own key");
        assertEquals(0, D.withWindow(1).windowLeft());
        assertEquals(w, D.withWindow(4, 0));
        assertEquals(D.withCausal(true), D.withWindow(-1, 0), "R = 0 is causal");
        assertEquals(0, D.withCausal(true).window(), "causal without a left bound has no window");
        assertEquals(-1, D.withCausal(true).windowLeft());

        AttentionSpec sides = D.withWindow(3, 2);
        assertFalse(sides.causal());
        assertEquals(0, sides.window());
        assertEquals(sides, sides.withCausal(false), "not causal: nothing to drop");
        assertEquals(D, w.withCausal(false), "dropping causal drops its window");
        assertEquals(w, w.withCausal(true), "causal again keeps the window");
        assertEquals(D.withCausal(true), w.withWindow(0), "W = 0 drops the left side, keeps causal");
        assertEquals(D.withWindow(-1, 2), sides.withWindow(0), "W = 0 keeps a right side");
        assertEquals(D.withWindow(4, 0), new AttentionSpec(Double.NaN, false, 5, null), "the older constructor");
    }

    @Test
    void badValuesAreRefusedWithTheirValue() {
        assertMessage("scale must be finite and non-zero, got 0.0", () -> D.withScale(0));
        assertMessage("scale must be finite and non-zero, got Infinity", () -> D.withScale(Double.POSITIVE_INFINITY));
        assertMessage("window must be >= 1 (or 0 for none), got -1", () -> D.withWindow(-1));
        assertMessage("window must be >= 1 (or 0 for none), got -2", () -> new AttentionSpec(Double.NaN, true, -2, null));
        assertMessage("window sides must be >= 0 or -1 (unbounded), got left -2, right 0", () -> D.withWindow(-2, 0));
        assertMessage("window sides must be >= 0 or -1 (unbounded), got left 0, right -2", () -> D.withWindow(0, -2));
        assertMessage("softcap must be finite and > 0 (or 0 for none), got -1.0", () -> D.withSoftcap(-1));
        assertMessage("softcap must be finite and > 0 (or 0 for none), got NaN", () -> D.withSoftcap(Double.NaN));
        assertMessage("softcap must be finite and > 0 (or 0 for none), got Infinity",
                () -> D.withSoftcap(Double.POSITIVE_INFINITY));
        assertMessage("causal means window right 0, not 1", () -> D.withWindow(-1, 1).withCausal(true));
        assertMessage("window 3 means window left 2, not 5", () -> new AttentionSpec(Double.NaN, false, 3, null,
                CausalAlign.BOTTOM_RIGHT, 5, -1, 0, null, null, null, null, null));
        // the edges that are allowed
        assertEquals(0, D.withWindow(0, 0).windowLeft());
        assertEquals(-1, D.withWindow(-1, -1).windowLeft());
        assertTrue(D.withScale(-0.5).scale() < 0, "a negative scale is a scale");
        assertEquals(1e-300, D.withSoftcap(1e-300).softcap());
    }

    @Test
    void theScaleInForce() {
        assertEquals(1 / Math.sqrt(64), D.scaleFor(64));
        assertEquals(1 / Math.sqrt(59), D.scaleFor(59));
        assertEquals(0.25, D.withScale(0.25).scaleFor(64));
    }

    @Test
    void fullMeansNoRuleHidesAnyKey() {
        assertTrue(D.isFull());
        assertTrue(D.withSoftcap(30).withScale(2).isFull(), "scores change, visibility does not");
        assertFalse(D.withCausal(true).isFull());
        assertFalse(D.withWindow(-1, 3).isFull());
        assertFalse(D.withWindow(3, -1).isFull());
        assertFalse(D.withSegments(SegmentIds.of(new long[] {0, 0}, 1, 2)).isFull());
        assertFalse(D.withMask(KeepMask.of(new boolean[] {true}, 1, 1, 1, 1)).isFull());
    }

    @Test
    void causalAlignmentParses() {
        assertEquals(CausalAlign.BOTTOM_RIGHT, CausalAlign.parse("bottom-right"));
        assertEquals(CausalAlign.BOTTOM_RIGHT, CausalAlign.parse("bottom_right"));
        assertEquals(CausalAlign.TOP_LEFT, CausalAlign.parse("top-left"));
        assertEquals(CausalAlign.TOP_LEFT, CausalAlign.parse("top_left"));
        assertEquals("top-left", CausalAlign.TOP_LEFT.text());
        assertMessage("causal alignment must be bottom-right or top-left, got 'left'", () -> CausalAlign.parse("left"));
        assertEquals(CausalAlign.BOTTOM_RIGHT, new AttentionSpec(Double.NaN, false, 0, null, null, -1, -1, 0, null,
                null, null, null, null).causalAlign(), "null alignment is the default");
    }

    @Test
    void textNamesEveryRuleInForce() {
        assertEquals("full", D.toString());
        assertEquals("causal", D.withCausal(true).toString());
        assertEquals("window=5", D.withWindow(5).toString());
        assertEquals("window=(3, 2)", D.withWindow(3, 2).toString());
        assertEquals("window=(-1, 2)", D.withWindow(-1, 2).toString());
        assertEquals("window=(2, -1)", D.withWindow(2, -1).toString());
        assertEquals("causal top-left", D.withCausal(true).withCausalAlign(CausalAlign.TOP_LEFT).toString());
        assertEquals("full, scale=0.5", D.withScale(0.5).toString());
        assertEquals("full, softcap=30.0", D.withSoftcap(30).toString());
        AlibiSlopes alibi = AlibiSlopes.perHead(new double[] {0.5, 0.25});
        AttentionSinks sinks = AttentionSinks.of(new double[] {1, 2});
        KeepMask mask = KeepMask.of(new boolean[] {true}, 1, 1, 1, 1);
        ScoreBias bias = ScoreBias.of(new double[] {0}, 1, 1, 1, 1);
        AttentionSpec all = D.withCausal(true).withSegments(SegmentIds.of(new long[] {0}, 1, 1)).withAlibi(alibi)
                .withSinks(sinks).withMask(mask).withBias(bias).withScale(2).withSoftcap(10);
        assertEquals("causal+segments+" + alibi + "+" + sinks + "+" + mask + "+" + bias + ", scale=2.0, softcap=10.0",
                all.toString());
        assertTrue(alibi.toString().startsWith("alibi"));
        assertEquals("sinks[2]", sinks.toString());
    }

    @Test
    void aWindowGivenWithItsOwnLeftSideIsAccepted() {
        AttentionSpec both = new AttentionSpec(Double.NaN, false, 3, null, CausalAlign.BOTTOM_RIGHT, 2, -1, 0, null,
                null, null, null, null);
        assertEquals(D.withWindow(3), both, "W = 3 with L = 2 says the same twice");
        assertMessage("window 3 means window left 2, not 4", () -> new AttentionSpec(Double.NaN, false, 3, null,
                CausalAlign.BOTTOM_RIGHT, 4, -1, 0, null, null, null, null, null));
    }

    @Test
    void aLeftSideOfZeroIsAWindow() {
        // (0, −1): each query sees its own key and every later one; a boundary of isFull and toString
        AttentionSpec onlyLater = D.withWindow(0, -1);
        assertFalse(onlyLater.causal());
        assertFalse(onlyLater.isFull());
        assertEquals("window=(0, -1)", onlyLater.toString());
    }

    @Test
    void packedSequencesComeOneWayOnly() {
        SequenceLengths varlen = SequenceLengths.of(new long[] {0, 2, 3}, new long[] {0, 1, 3});
        AttentionSpec packed = D.withVarlen(varlen);
        assertEquals(varlen, packed.varlen());
        assertFalse(packed.isFull());
        assertEquals("full+varlen(2)", packed.toString());
        SegmentIds segments = SegmentIds.of(new long[] {0, 0, 1}, 1, 3);
        assertEquals(segments, D.withSegments(segments).segments());
        assertMessage("segments and cu_seqlens both pack sequences: give one of them",
                () -> packed.withSegments(segments));
    }

    private static void assertMessage(String message, Runnable r) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, r::run);
        assertEquals(message, e.getMessage());
    }
}
