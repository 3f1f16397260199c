package org.ringattention.bench;

/**
 * When a benchmark has warmed up: after at least {@code minRuns} runs, at least {@code millis}
 * milliseconds, at least {@link #JIT_RUNS} runs and two runs in a row within 25 % of each other
 * (compiled code settled), but never longer than 10 × {@code millis}. With {@code millis = 0},
 * exactly {@code minRuns} runs.
 *
 * @param minRuns untimed runs to do in any case
 * @param millis  milliseconds to keep warming up after them
 */
public record WarmupRule(int minRuns, long millis) {

    /**
     * Runs C2 needs to see before it compiles the engine's task methods: they run a few hundred
     * times per pass, and tiered compilation counts invocations and loop iterations, not time.
     * Until then a pass can be stable and slow (a 2-thread causal forward ran at the speed of one
     * thread until C2's code for the pass was installed).
     */
    public static final int JIT_RUNS = 20;

    /** Two runs in a row within this factor of each other count as settled. */
    static final double SETTLED = 1.25;

    public WarmupRule {
        if (minRuns < 0 || millis < 0) {
            throw new IllegalArgumentException("warm-up runs and milliseconds must be >= 0, got " + minRuns + ", "
                    + millis);
        }
    }

    /**
     * Whether to do another warm-up run after {@code runs} runs in {@code elapsedMillis}, the last
     * two of which took {@code previous} and {@code last} seconds (NaN when not run yet).
     */
    public boolean another(int runs, double elapsedMillis, double previous, double last) {
        if (runs < minRuns) {
            return true;
        }
        if (millis == 0 || elapsedMillis >= 10.0 * millis) {
            return false;
        }
        if (elapsedMillis < millis || runs < JIT_RUNS) {
            return true;
        }
        boolean settled = runs >= 2 && Math.max(previous, last) <= SETTLED * Math.min(previous, last);
        return !settled;
    }
}
