package org.ringattention.attention;

import org.ringattention.tasks.TaskScheduler;
import org.ringattention.tasks.Tasks;
import org.ringattention.tensor.Tensor;

/**
 * The engines' check that inputs hold no NaN or ±∞, with the scan split into pieces on a pool of
 * worker threads: one thread scanning q, k and v took about 1.3 ms of each 57 ms forward pass at
 * N = 4096, d = 64, H = 2 on 2 threads. Ring attention scans its inputs with it up front, and the
 * backward passes scan dO. Blockwise attention checks q, k and v block by block as its tasks copy
 * them ({@link NonFiniteInput}) and scans only after a task found one, to name the first.
 */
public final class FiniteInputs {

    private FiniteInputs() {
    }

    /**
     * {@link Tensor#requireFinite} of each tensor, in order, on {@code threads} threads: the error
     * names the first tensor that holds a non-finite element and its first such element, as the
     * serial check does.
     */
    public static void require(int threads, Tensor[] tensors, String... names) {
        int pieces = 2 * threads;
        long[] found = new long[tensors.length * pieces];
        TaskScheduler.runAll(new Object[threads], Tasks.of(found.length, (unused, task) -> {
            Tensor t = tensors[task / pieces];
            int piece = task % pieces;
            found[task] = t.firstNonFinite(t.size() * piece / pieces, t.size() * (piece + 1) / pieces);
            return 0;
        }));
        for (int i = 0; i < found.length; i++) {
            if (found[i] >= 0) {
                tensors[i / pieces].requireFinite(names[i / pieces]); // throws, naming the first one
            }
        }
    }
}
