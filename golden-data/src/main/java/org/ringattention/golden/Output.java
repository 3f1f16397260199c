package org.ringattention.golden;

import org.ringattention.check.AccuracyRule;

/** The five reference outputs of a case, with the accuracy rule each is held to. */
public enum Output {
    O("o", "O", AccuracyRule.FORWARD),
    LSE("lse", "LSE", AccuracyRule.FORWARD),
    DQ("dq", "dQ", AccuracyRule.GRADIENT),
    DK("dk", "dK", AccuracyRule.GRADIENT),
    DV("dv", "dV", AccuracyRule.GRADIENT);

    private final String key;
    private final String label;
    private final AccuracyRule rule;

    Output(String key, String label, AccuracyRule rule) {
        this.key = key;
        this.label = label;
        this.rule = rule;
    }

    /** Manifest key and file stem: "o", "lse", "dq", ... */
    public String key() {
        return key;
    }

    /** For tables: "O", "LSE", "dQ", ... */
    public String label() {
        return label;
    }

    /** 2x for O and LSE, 3x for the gradients. */
    public AccuracyRule rule() {
        return rule;
    }
}
