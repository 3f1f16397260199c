package org.ringattention.model;

import java.util.function.IntConsumer;

/** Greedy or sampled generation: prefill the prompt, then {@code steps} decoding steps. */
public final class Generation {

    private Generation() {
    }

    /** The {@code steps} tokens [B, steps] that follow {@code prompt} [B, N]. */
    public static int[] generate(Decoder decoder, int[] prompt, int batch, int steps, Sampler sampler) {
        return generate(decoder, prompt, batch, steps, sampler, done -> { });
    }

    /**
     * The same, telling {@code progress} the number of tokens per batch row generated so far after
     * each one (1, 2, …, steps): how a command line shows long generations advancing.
     */
    public static int[] generate(Decoder decoder, int[] prompt, int batch, int steps, Sampler sampler,
            IntConsumer progress) {
        if (steps < 0) {
            throw new IllegalArgumentException("steps must be >= 0, got " + steps);
        }
        int[] out = new int[batch * steps];
        if (steps == 0) {
            return out;
        }
        float[] logits = decoder.prefill(prompt, batch);
        for (int s = 0; s < steps; s++) {
            int[] next = sampler.next(logits, batch);
            for (int b = 0; b < batch; b++) {
                out[b * steps + s] = next[b];
            }
            if (s + 1 < steps) {
                logits = decoder.step(next);
            }
            progress.accept(s + 1);
        }
        return out;
    }
}
