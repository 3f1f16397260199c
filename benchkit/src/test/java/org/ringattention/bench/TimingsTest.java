package org.ringattention.bench;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

/** Timings and WarmupRule: the statistics and the warm-up decision of the timing harness. */
class TimingsTest {

    @Test
    void medianMinMaxAndTheMedianRun() {
        Timings odd = new Timings(3, 1, 2);
        assertThat(odd.median()).isEqualTo(2);
        assertThat(odd.min()).isEqualTo(1);
        assertThat(odd.max()).isEqualTo(3);
        assertThat(odd.medianIndex()).isEqualTo(2);
        assertThat(odd.seconds()).containsExactly(3, 1, 2);
        Timings even = new Timings(4, 1, 3, 2);
        assertThat(even.median()).isEqualTo(2.5);
        assertThat(even.medianIndex()).isEqualTo(3); // the lower middle one: 2 s, the fourth run
        assertThat(new Timings(7).median()).isEqualTo(7);
        assertThatThrownBy(Timings::new).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void keepsItsOwnCopy() {
        double[] s = {1, 2, 3};
        Timings t = new Timings(s);
        s[0] = 100;
        t.seconds()[1] = 100;
        assertThat(t.seconds()).containsExactly(1, 2, 3);
        assertThat(t.max()).isEqualTo(3);
    }

    @Test
    void timesARun() {
        // no upper bound: a JVM stopped for a minute during the empty run would break one
        assertThat(Timings.time(() -> { })).isGreaterThanOrEqualTo(0).isFinite();
    }

    @Test
    void maxIgnoresAMissingMeasurement() {
        assertThat(Timings.maxIgnoringNaN(Double.NaN, 2)).isEqualTo(2);
        assertThat(Timings.maxIgnoringNaN(3, Double.NaN)).isEqualTo(3);
        assertThat(Timings.maxIgnoringNaN(3, 4)).isEqualTo(4);
        assertThat(Timings.maxIgnoringNaN(Double.NaN, Double.NaN)).isNaN();
    }

    @Test
    void warmsUpForTheRunsTheTimeAndUntilSettled() {
        WarmupRule rule = new WarmupRule(2, 100);
        assertThat(rule.another(0, 0, Double.NaN, Double.NaN)).isTrue();
        assertThat(rule.another(1, 500, Double.NaN, 1.0)).isTrue(); // fewer than the runs asked for
        assertThat(rule.another(WarmupRule.JIT_RUNS, 50, 1.0, 1.0)).isTrue(); // not long enough yet
        assertThat(rule.another(WarmupRule.JIT_RUNS - 1, 500, 1.0, 1.0)).isTrue(); // C2 has not seen enough
        assertThat(rule.another(WarmupRule.JIT_RUNS, 500, 1.0, 1.3)).isTrue(); // not settled
        assertThat(rule.another(WarmupRule.JIT_RUNS, 500, 1.0, 1.2)).isFalse(); // settled
        assertThat(rule.another(WarmupRule.JIT_RUNS, 1000, 1.0, 2.0)).isFalse(); // 10 x millis: give up
    }

    @Test
    void zeroMillisMeansExactlyTheRuns() {
        WarmupRule rule = new WarmupRule(3, 0);
        assertThat(rule.another(2, 0, 1, 5)).isTrue();
        assertThat(rule.another(3, 0, 1, 5)).isFalse();
        assertThatThrownBy(() -> new WarmupRule(-1, 0)).isInstanceOf(IllegalArgumentException.class);
    }
}
