package org.ringattention.model;

import static org.assertj.core.api.Assertions.assertThat;

import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;
import org.ringattention.kernel.Kernels;
import org.ringattention.ring.Layout;

/**
 * Pins the bits of a random model's backward pass (every weight gradient by name, then dL/dx₀; one
 * and three devices) to hashes recorded before a refactoring, as {@link LogitsHashTest} pins the
 * logits: the backward pass's RoPE angles moving to {@link RopeTables} must keep every bit.
 */
class GradientHashTest {

    private static final int BATCH = 2;
    private static final int BLOCK_ROWS = 4;

    /** Recorded on commit b4fb6eb (the backward pass computing RoPE angles per row and layer). */
    private static final String ONE_DEVICE =
            "aee36c248ec01874e70dbdb051297d2722f0776036e04d7886ff7e315609806d";
    private static final String THREE_DEVICES =
            "f21c4d2745cdfea0e50d24f552f6931fff0fa2c7835b84fc0b4bfd7d142f07e7";

    private static String run(int devices, long ropeCap) throws NoSuchAlgorithmException {
        LlamaWeights w = LlamaWeights.random(ModelFixtures.tiny(), 71);
        int vocab = w.config().vocabSize();
        int n = 23;
        LlamaModel model = new LlamaModel(w, Kernels.preferred(), BLOCK_ROWS, 2);
        model.ropeTableDoubles = ropeCap;
        int[] tokens = ModelFixtures.tokens(BATCH * n, vocab, 72);
        float[] dLogits = ModelFixtures.widenToFloats(ModelFixtures.tokens(BATCH * n * vocab, 7, 73), 3);
        ModelBackward.Result g = ModelBackward.backward(model, tokens, BATCH, dLogits,
                devices == 1 ? ModelFixtures.blockwise(2) : ModelFixtures.ring(devices, Layout.ZIGZAG, 2),
                new Sharding(devices, Layout.ZIGZAG));
        MessageDigest md = MessageDigest.getInstance("SHA-256");
        for (var e : new TreeMap<>(g.weights().entries()).entrySet()) {
            md.update(e.getKey().getBytes(java.nio.charset.StandardCharsets.UTF_8));
            ModelFixtures.digest(md, e.getValue().data());
        }
        ModelFixtures.digest(md, g.inputGradient());
        return HexFormat.of().formatHex(md.digest());
    }

    @Test
    void gradientsKeepTheirRecordedBits() throws NoSuchAlgorithmException {
        // caps: every block tabled, some (the cap falls inside the sequence), none
        for (long cap : new long[] {RopeTables.DEFAULT_CAP, 6 * 9, 0}) {
            assertThat(run(1, cap)).as("1 device, cap %d", cap).isEqualTo(ONE_DEVICE);
            assertThat(run(3, cap)).as("3 devices, cap %d", cap).isEqualTo(THREE_DEVICES);
        }
    }
}
