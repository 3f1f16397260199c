package org.ringattention.golden;

import org.ringattention.attention.AttentionEngine;
import org.ringattention.attention.AttentionOutput;
import org.ringattention.attention.AttentionShape;
import org.ringattention.attention.AttentionSpec;
import org.ringattention.attention.BlockwiseAttention;
import org.ringattention.attention.Gradients;
import org.ringattention.attention.VanillaAttention;
import org.ringattention.kernel.Kernels;
import org.ringattention.ring.Layout;
import org.ringattention.ring.LinkModel;
import org.ringattention.ring.RingAttention;
import org.ringattention.tensor.Tensor;

/**
 * Runs the engine's paths on a case's inputs and returns the outputs the case stores as doubles.
 * The sinks' gradient is {@link org.ringattention.attention.AttentionSinks#gradient} of each path's
 * own forward result (O and LSE), so it checks that result once more.
 */
public final class EnginePaths {

    private EnginePaths() {
    }

    /** The float64 oracle on the stored values: the reference. */
    public static Outputs reference(GoldenCase c, CaseInputs in) {
        return vanilla(VanillaAttention.oracle(), c, in.q(), in.k(), in.v(), in.dOut(), in.spec(c));
    }

    /**
     * The baseline of the accuracy rule: plain float32 vanilla attention (every operation rounded to
     * float32) on the inputs rounded to float32.
     */
    public static Outputs baseline(GoldenCase c, CaseInputs in) {
        return vanilla(new VanillaAttention(VanillaAttention.Precision.FLOAT32), c,
                CaseInputs.roundedToFloat(in.q()), CaseInputs.roundedToFloat(in.k()),
                CaseInputs.roundedToFloat(in.v()), CaseInputs.roundedToFloat(in.dOut()), in.spec(c));
    }

    /** The blockwise float32 engine with the given kernels, block sizes and threads. */
    public static Outputs blockwise(GoldenCase c, CaseInputs in, Kernels kernels, GoldenCase.Block block,
            int threads) {
        return engine(c, in, new BlockwiseAttention(kernels, block.q(), block.kv(), threads));
    }

    /** Ring attention over {@code devices} devices with the given layout, block sizes and threads. */
    public static Outputs ring(GoldenCase c, CaseInputs in, Kernels kernels, GoldenCase.Block block, int threads,
            int devices, Layout layout) {
        return engine(c, in, new RingAttention(kernels, block.q(), block.kv(), threads, devices, layout,
                LinkModel.UNTHROTTLED));
    }

    /** Any engine on the case's inputs rounded to float32: forward, then backward with the case's dO. */
    public static Outputs engine(GoldenCase c, CaseInputs in, AttentionEngine engine) {
        AttentionSpec spec = in.spec(c);
        Tensor[] t = tensors(c, in);
        AttentionOutput fwd = engine.attend(t[0], t[1], t[2], spec);
        double[] dsinks = c.sinkGradient() ? widen(spec.sinks().gradient(fwd, t[3])) : null;
        return outputs(fwd, engine.gradients(t[0], t[1], t[2], fwd, t[3], spec), dsinks);
    }

    /** q, k, v and dO as float32 tensors. */
    private static Tensor[] tensors(GoldenCase c, CaseInputs in) {
        return new Tensor[] {
            Tensor.wrap(CaseInputs.toFloats(in.q()), c.batch(), c.qHeads(), c.qLen(), c.dim()),
            Tensor.wrap(CaseInputs.toFloats(in.k()), c.batch(), c.kvHeads(), c.kvLen(), c.dim()),
            Tensor.wrap(CaseInputs.toFloats(in.v()), c.batch(), c.kvHeads(), c.kvLen(), c.dim()),
            Tensor.wrap(CaseInputs.toFloats(in.dOut()), c.batch(), c.qHeads(), c.qLen(), c.dim())};
    }

    private static Outputs outputs(AttentionOutput fwd, Gradients g, double[] dsinks) {
        return new Outputs(widen(fwd.out().toArray()), widen(fwd.lse()), widen(g.dq().toArray()),
                widen(g.dk().toArray()), widen(g.dv().toArray()), dsinks);
    }

    private static Outputs vanilla(VanillaAttention attention, GoldenCase c, double[] q, double[] k, double[] v,
            double[] dOut, AttentionSpec spec) {
        AttentionShape shape = c.shape();
        VanillaAttention.Result fwd = attention.forward(shape, spec, q, k, v);
        VanillaAttention.Grads g = attention.backward(shape, spec, q, k, v, dOut);
        double[] dsinks = c.sinkGradient() ? attention.sinkGradient(shape, spec, q, k, v, dOut) : null;
        return new Outputs(fwd.out(), fwd.lse(), g.dq(), g.dk(), g.dv(), dsinks);
    }

    static double[] widen(float[] x) {
        double[] d = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            d[i] = x[i];
        }
        return d;
    }
}
