package org.ringattention.model;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.nio.file.Path;
import java.util.Arrays;
import org.ringattention.attention.BlockwiseAttention;
import org.ringattention.kernel.Kernels;

/**
 * An in-process A/B of {@link ModelBackward} (a main, not a test): the same backward pass with RoPE
 * tables (A: {@link RopeTables#DEFAULT_CAP}) and without (B: cap 0, every row computing its own
 * angles in each pass, as the backward did before it used the tables), alternating A and B so
 * that a loaded machine's drift falls on both. Everything runs on the calling thread (model and
 * engine with one thread), so the thread's CPU time is reported beside the wall time; the two
 * results' bits are compared too, and the CPU time of the angles alone (one table build) is
 * printed.
 *
 * <pre>java -cp model/target/classes:model/target/test-classes:... org.ringattention.model.BackwardRopeAb
 *     CONFIG.json N ROUNDS</pre>
 */
final class BackwardRopeAb {

    private BackwardRopeAb() {
    }

    public static void main(String[] args) throws Exception {
        LlamaConfig c = LlamaConfig.read(Path.of(args[0]));
        int n = Integer.parseInt(args[1]);
        int rounds = Integer.parseInt(args[2]);
        LlamaWeights w = LlamaWeights.random(c, 1);
        LlamaModel model = new LlamaModel(w, Kernels.preferred(), 128, 1);
        BlockwiseAttention engine = new BlockwiseAttention(Kernels.preferred(), 128, 128, 1);
        int[] tokens = ModelFixtures.tokens(n, c.vocabSize(), 2);
        float[] dLogits = ModelFixtures.widenToFloats(ModelFixtures.tokens(n * c.vocabSize(), 7, 3), 3);
        ThreadMXBean mx = ManagementFactory.getThreadMXBean();
        ModelBackward.Result[] last = new ModelBackward.Result[2];
        System.out.println("round,variant,wall_ms,cpu_ms");
        for (int round = -1; round < rounds; round++) { // round -1: warm-up of both
            for (int v = 0; v < 2; v++) {
                int variant = (round & 1) == 0 ? v : 1 - v; // ABBA order
                model.ropeTableDoubles = variant == 0 ? RopeTables.DEFAULT_CAP : 0;
                long cpu0 = mx.getCurrentThreadCpuTime();
                long t0 = System.nanoTime();
                last[variant] = ModelBackward.backward(model, tokens, 1, dLogits, engine, Sharding.SINGLE);
                long wall = System.nanoTime() - t0;
                long cpu = mx.getCurrentThreadCpuTime() - cpu0;
                System.out.printf("%d,%s,%.1f,%.1f%n", round, variant == 0 ? "tables" : "rows", wall / 1e6,
                        cpu / 1e6);
            }
        }
        boolean same = Arrays.equals(last[0].inputGradient(), last[1].inputGradient());
        for (var e : last[0].weights().entries().entrySet()) {
            same &= Arrays.equals(e.getValue().data(), last[1].weights().floats(e.getKey()));
        }
        System.out.println("bits identical: " + same);
        // the angles alone: one table build is one pass's worth; without tables a backward computes 3·L passes' worth
        org.ringattention.attention.Positions[] shards = Sharding.SINGLE.split(n);
        int[][] blocks = model.blocks(shards, 1);
        model.ropeTableDoubles = RopeTables.DEFAULT_CAP;
        int builds = 50;
        long cpu0 = 0;
        try (Tasks tasks = new Tasks(1)) {
            for (int i = -builds; i < builds; i++) { // the first half warms up
                if (i == 0) {
                    cpu0 = mx.getCurrentThreadCpuTime();
                }
                model.ropeTables(shards, blocks, tasks);
            }
        }
        double perBuild = (mx.getCurrentThreadCpuTime() - cpu0) / 1e6 / builds;
        System.out.printf("angles of one pass over N = %d: %.2f ms cpu; 3·L = %d passes: %.1f ms%n", n, perBuild,
                3 * c.layers(), perBuild * 3 * c.layers());
    }
}
