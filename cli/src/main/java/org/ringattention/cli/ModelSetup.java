package org.ringattention.cli;

import java.io.IOException;
import java.nio.file.Path;
import org.ringattention.attention.AttentionEngine;
import org.ringattention.kernel.Kernels;
import org.ringattention.model.LlamaModel;
import org.ringattention.model.LlamaWeights;
import org.ringattention.model.ModelFolder;
import org.ringattention.model.ModelFormatException;
import org.ringattention.model.Sharding;
import org.ringattention.ring.Layout;
import org.ringattention.tensor.DType;
import org.ringattention.tensor.Npy;
import org.ringattention.tensor.NpyArray;
import org.ringattention.tensor.SafetensorsFormatException;

/** What the model commands share: loading a folder and tokens, and building the model, engine and sharding. */
final class ModelSetup {

    /** Tokens [B, N] row-major, and whether the file was one-dimensional. */
    record Tokens(int[] ids, int batch, int length, boolean flat) {
    }

    private ModelSetup() {
    }

    static LlamaWeights load(Path dir) {
        try {
            return ModelFolder.load(dir);
        } catch (ModelFormatException | SafetensorsFormatException e) {
            throw CliException.data(e.getMessage());
        } catch (IOException e) {
            throw CliException.data(dir + ": " + e);
        }
    }

    /** Reads int32 or int64 tokens [N] or [B, N] and checks them against the vocabulary. */
    static Tokens tokens(Path file, int vocab) throws IOException {
        NpyArray a = Npy.read(file);
        if (a.dtype() != DType.INT32 && a.dtype() != DType.INT64) {
            throw CliException.data(file + ": tokens must be int32 or int64, got " + a.dtype());
        }
        long[] shape = a.shape();
        if (shape.length < 1 || shape.length > 2 || a.size() == 0) {
            throw CliException.data(file + ": tokens must be [N] or [B, N] with N >= 1, got shape "
                    + java.util.Arrays.toString(shape));
        }
        long[] raw = a.toLongArray();
        int[] ids = new int[raw.length];
        int n = (int) shape[shape.length - 1];
        for (int i = 0; i < raw.length; i++) {
            if (raw[i] < 0 || raw[i] >= vocab) {
                throw CliException.data(file + ": token " + raw[i] + " at index " + (shape.length == 2 ? "[" + i / n
                        + ", " + i % n + "]" : "[" + i + "]") + " is outside the vocabulary [0, " + vocab + ")");
            }
            ids[i] = (int) raw[i];
        }
        return new Tokens(ids, shape.length == 2 ? (int) shape[0] : 1, n, shape.length == 1);
    }

    static LlamaModel model(LlamaWeights w, EngineOptions e) {
        return new LlamaModel(w, Kernels.preferred(), e.blockQ, e.threads());
    }

    static AttentionEngine engine(EngineOptions e, RingOptions r) {
        return r.active() ? r.engine(Kernels.preferred(), e) : e.engine(Kernels.preferred());
    }

    static Sharding sharding(RingOptions r) {
        return new Sharding(r.devices, r.layout == null ? null : Layout.parse(r.layout));
    }
}
