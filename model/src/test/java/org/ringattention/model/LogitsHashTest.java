package org.ringattention.model;

import static org.assertj.core.api.Assertions.assertThat;

import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import org.junit.jupiter.api.Test;
import org.ringattention.kernel.Kernels;
import org.ringattention.ring.Layout;

/**
 * Pins the bits of a random model's logits (prefill and decode steps, one and three devices) to
 * hashes recorded before a refactoring, so that changes meant to keep every bit (such as sharing
 * the RoPE table across layers) are checked against the code before them, not only against itself.
 */
class LogitsHashTest {

    private static final int BATCH = 2;

    /** Recorded on commit e7adbf9 (RoPE angles recomputed per row and layer). */
    private static final String ONE_DEVICE =
            "1c8f3c8aa8332adead5a2cf6536e3a4084f0fd28788a9430f42feafc56b160ed";
    private static final String THREE_DEVICES =
            "ae622fda8f0b2a8ad4fc8df915392b3cdd860a5ad9a38c7e40ed230e3b5c117c";

    private static String run(int devices, int blockRows, long ropeCap) throws NoSuchAlgorithmException {
        LlamaWeights w = LlamaWeights.random(ModelFixtures.tiny(), 61);
        int vocab = w.config().vocabSize();
        LlamaModel model = new LlamaModel(w, Kernels.preferred(), blockRows, 2);
        model.ropeTableDoubles = ropeCap;
        Sharding s = new Sharding(devices, Layout.ZIGZAG);
        Decoder dec = new Decoder(model, devices == 1 ? ModelFixtures.blockwise(2)
                : ModelFixtures.ring(devices, Layout.ZIGZAG, 2), s);
        MessageDigest md = MessageDigest.getInstance("SHA-256");
        ModelFixtures.digest(md, dec.prefill(ModelFixtures.tokens(BATCH * 23, vocab, 62), BATCH));
        for (int step = 0; step < 4; step++) {
            ModelFixtures.digest(md, dec.step(ModelFixtures.tokens(BATCH, vocab, 200 + step)));
        }
        return HexFormat.of().formatHex(md.digest());
    }

    @Test
    void logitsKeepTheirRecordedBits() throws NoSuchAlgorithmException {
        // caps: every block tabled, some (the cap falls inside the sequence), none
        for (long cap : new long[] {RopeTables.DEFAULT_CAP, 6 * 9, 0}) {
            for (int blockRows : new int[] {1, 4, 64}) {
                assertThat(run(1, blockRows, cap)).as("1 device, block rows %d, cap %d", blockRows, cap)
                        .isEqualTo(ONE_DEVICE);
                assertThat(run(3, blockRows, cap)).as("3 devices, block rows %d, cap %d", blockRows, cap)
                        .isEqualTo(THREE_DEVICES);
            }
        }
    }
}
