package org.ringattention.cli;

import java.io.IOException;
import java.nio.file.Path;
import org.ringattention.attention.AttentionOutput;
import org.ringattention.attention.AttentionSpec;
import org.ringattention.attention.Gradients;
import org.ringattention.attention.LowPrecisionAttention;
import org.ringattention.tensor.Tensor;

/**
 * The {@code attend --emulate} run: {@link LowPrecisionAttention} on the inputs, O and the
 * gradients staged in the emulated format (bfloat16 as ml_dtypes' {@code '<V2'}, or uint16 bits
 * with {@code --bf16-bits}; float16 as {@code '<f2'}; BF16/F16 in safetensors), LSE and the
 * sinks' gradient in float32; tensors in the command's {@code --tensor-layout}.
 */
final class EmulatedAttend {

    private EmulatedAttend() {
    }

    /** Runs and stages the outputs; returns what ran, for the summary line. */
    static String run(AttendCommand c, LowPrecisionAttention.Format format, boolean bf16Bits, AttentionSpec spec,
            NpyInputs.Input qIn, NpyInputs.Input kIn, NpyInputs.Input vIn, NpyInputs.Input doIn,
            AtomicOutputs outputs, Progress progress, long[] oShape, long[] lseShape) throws IOException {
        LowPrecisionAttention lp = new LowPrecisionAttention(format);
        Tensor qt = qIn.toTensor();
        Tensor kt = kIn.toTensor();
        Tensor vt = vIn.toTensor();
        AttentionOutput r;
        try {
            r = lp.forward(qt, kt, vt, spec);
        } catch (IllegalArgumentException e) {
            throw CliException.data("--emulate " + format + ": " + e.getMessage());
        }
        progress.step("forward done");
        stage(outputs, c.out, oShape, qIn.toFile(r.out().toArray()), format, bf16Bits);
        if (c.lse != null) {
            outputs.stage(c.lse, lseShape, r.lse());
        }
        if (doIn != null) {
            Gradients g;
            try {
                g = lp.backward(qt, kt, vt, r, doIn.toTensor(), spec);
            } catch (IllegalArgumentException e) {
                throw CliException.data("--emulate " + format + ": " + e.getMessage());
            }
            progress.step("backward done");
            stage(outputs, c.dq, oShape, qIn.toFile(g.dq().toArray()), format, bf16Bits);
            stage(outputs, c.dk, kIn.array().shape(), kIn.toFile(g.dk().toArray()), format, bf16Bits);
            stage(outputs, c.dv, vIn.array().shape(), vIn.toFile(g.dv().toArray()), format, bf16Bits);
            if (c.dsinks != null) { // from this path's O (in the format) and LSE, summed in float64
                outputs.stage(c.dsinks, new long[] {spec.sinks().heads()}, spec.sinks().gradient(r, doIn.toTensor()));
            }
        }
        return "emulated " + format + " reference path (outputs in " + format + ", LSE in float32)";
    }

    private static void stage(AtomicOutputs outputs, Path target, long[] shape, float[] values,
            LowPrecisionAttention.Format format, boolean bf16Bits) throws IOException {
        outputs.stage(target, shape, values, format.dtype(), bf16Bits);
    }
}
