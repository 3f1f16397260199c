package org.ringattention.golden;

import org.ringattention.check.AccuracyRule;

/**
 * The reference outputs of a case, with the accuracy rule each is held to: O, LSE, dQ, dK, dV in
 * every case, and ∂L/∂sink [Hq] in the cases that store it ({@link GoldenCase#outputs}).
 */
public enum Output {
    O("o", "O", AccuracyRule.FORWARD),
    LSE("lse", "LSE", AccuracyRule.FORWARD),
    DQ("dq", "dQ", AccuracyRule.GRADIENT),
    DK("dk", "dK", AccuracyRule.GRADIENT),
    DV("dv", "dV", AccuracyRule.GRADIENT),
    DSINKS("dsinks", "dSinks", AccuracyRule.GRADIENT);

    /** The outputs every case stores. */
    public static final java.util.List<Output> EVERY_CASE = java.util.List.of(O, LSE, DQ, DK, DV);

    private final String key;
    private final String label;
    private final AccuracyRule rule;

    Output(String key, String label, AccuracyRule rule) {
        this.key = key;
        this.label = label;
        this.rule = rule;
    }

    /** Manifest key and file stem: "o", "lse", "dq", ..., "dsinks". */
    public String key() {
        return key;
    }

    /** For tables: "O", "LSE", "dQ", ... */
    public String label() {
        return label;
    }

    /** 2x for O and LSE, 3x for the gradients (the sinks' one included). */
    public AccuracyRule rule() {
        return rule;
    }
}
