package org.ringattention.model;

import java.util.SplittableRandom;

/**
 * Picks the next token from a row of logits: greedy (temperature 0: the largest logit, the lowest
 * index among equals) or sampled from softmax(logits / T) with a seeded generator, one draw per
 * batch row and step in order, so the same seed gives the same tokens.
 */
public final class Sampler {

    private final double temperature;
    private final SplittableRandom random;

    private Sampler(double temperature, long seed) {
        if (!(temperature >= 0) || !Double.isFinite(temperature)) {
            throw new IllegalArgumentException("temperature must be finite and >= 0, got " + temperature);
        }
        this.temperature = temperature;
        this.random = new SplittableRandom(seed);
    }

    public static Sampler greedy() {
        return new Sampler(0, 0);
    }

    public static Sampler sampling(double temperature, long seed) {
        return new Sampler(temperature, seed);
    }

    /** The token for each of the B rows of {@code logits} [B, V]. */
    public int[] next(float[] logits, int batch) {
        int vocab = logits.length / batch;
        int[] t = new int[batch];
        for (int b = 0; b < batch; b++) {
            t[b] = pick(logits, b * vocab, vocab);
        }
        return t;
    }

    private int pick(float[] x, int off, int n) {
        int best = 0;
        for (int i = 1; i < n; i++) {
            if (x[off + i] > x[off + best]) {
                best = i;
            }
        }
        if (temperature == 0) {
            return best;
        }
        double max = x[off + best];
        double[] p = new double[n];
        double sum = 0;
        for (int i = 0; i < n; i++) {
            p[i] = StrictMath.exp((x[off + i] - max) / temperature);
            sum += p[i];
        }
        double u = random.nextDouble() * sum;
        double acc = 0;
        for (int i = 0; i < n; i++) {
            acc += p[i];
            if (u < acc) {
                return i;
            }
        }
        return best; // u rounded up to the whole sum
    }
}
