package org.ringattention.model;

import java.io.IOException;
import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * The parameters of a Llama decoder as float32 arrays in the layout of Hugging Face's
 * LlamaForCausalLM: a linear layer's weight W is [out × in], row-major, and y = x Wᵀ; norms are
 * vectors of h. Names ({@link #EMBED}, {@link #layerName}, {@link #NORM}, {@link #LM_HEAD}) are
 * the checkpoint's. With tie_word_embeddings the LM head is the embedding matrix itself.
 */
public final class LlamaWeights {

    public static final String EMBED = "model.embed_tokens.weight";
    public static final String NORM = "model.norm.weight";
    public static final String LM_HEAD = "lm_head.weight";

    /** The per-layer tensors, in checkpoint order, as suffixes of {@code model.layers.{i}.}. */
    static final String[] LAYER_TENSORS = {"input_layernorm.weight", "self_attn.q_proj.weight",
        "self_attn.k_proj.weight", "self_attn.v_proj.weight", "self_attn.o_proj.weight",
        "post_attention_layernorm.weight", "mlp.gate_proj.weight", "mlp.up_proj.weight", "mlp.down_proj.weight"};

    /** One decoder layer's weights. */
    public record Layer(float[] inputNorm, float[] q, float[] k, float[] v, float[] o, float[] postNorm, float[] gate,
            float[] up, float[] down) {

        float[] get(int i) {
            return switch (i) {
                case 0 -> inputNorm;
                case 1 -> q;
                case 2 -> k;
                case 3 -> v;
                case 4 -> o;
                case 5 -> postNorm;
                case 6 -> gate;
                case 7 -> up;
                default -> down;
            };
        }
    }

    private final LlamaConfig config;
    private final float[] embed;
    private final Layer[] layers;
    private final float[] norm;
    private final float[] lmHead;

    private LlamaWeights(LlamaConfig config, float[] embed, Layer[] layers, float[] norm, float[] lmHead) {
        this.config = config;
        this.embed = embed;
        this.layers = layers;
        this.norm = norm;
        this.lmHead = lmHead;
    }

    public LlamaConfig config() {
        return config;
    }

    /** The embedding matrix [V × h]. */
    public float[] embed() {
        return embed;
    }

    public Layer layer(int i) {
        return layers[i];
    }

    /** The final norm's weight [h]. */
    public float[] norm() {
        return norm;
    }

    /** The LM head [V × h] (the embedding matrix when tied). */
    public float[] lmHead() {
        return lmHead;
    }

    /** {@code model.layers.{i}.{suffix}}. */
    public static String layerName(int i, String suffix) {
        return "model.layers." + i + "." + suffix;
    }

    /** The shape a tensor of this model must have, [out, in] for linear layers. */
    static long[] expectedShape(LlamaConfig c, String suffix) {
        long h = c.hiddenSize();
        return switch (suffix) {
            case "input_layernorm.weight", "post_attention_layernorm.weight" -> new long[] {h};
            case "self_attn.q_proj.weight" -> new long[] {c.qWidth(), h};
            case "self_attn.k_proj.weight", "self_attn.v_proj.weight" -> new long[] {c.kvWidth(), h};
            case "self_attn.o_proj.weight" -> new long[] {h, c.qWidth()};
            case "mlp.gate_proj.weight", "mlp.up_proj.weight" -> new long[] {c.intermediateSize(), h};
            case "mlp.down_proj.weight" -> new long[] {h, c.intermediateSize()};
            default -> throw new IllegalArgumentException(suffix);
        };
    }

    /**
     * Reads and checks every tensor the configuration needs from {@code source}; a missing tensor or
     * one of another shape is a {@link ModelFormatException} naming it, and so is a non-finite value.
     */
    public static LlamaWeights load(LlamaConfig c, WeightSource source) throws IOException {
        long h = c.hiddenSize();
        float[] embed = read(source, EMBED, c.vocabSize(), h);
        Layer[] layers = new Layer[c.layers()];
        for (int i = 0; i < c.layers(); i++) {
            float[][] t = new float[LAYER_TENSORS.length][];
            for (int j = 0; j < t.length; j++) {
                t[j] = read(source, layerName(i, LAYER_TENSORS[j]), expectedShape(c, LAYER_TENSORS[j]));
            }
            layers[i] = new Layer(t[0], t[1], t[2], t[3], t[4], t[5], t[6], t[7], t[8]);
        }
        float[] norm = read(source, NORM, h);
        float[] head;
        if (c.tieWordEmbeddings()) {
            head = embed; // a tied checkpoint may carry a copy of lm_head.weight; the embedding is the weight
        } else {
            head = read(source, LM_HEAD, c.vocabSize(), h);
        }
        return new LlamaWeights(c, embed, layers, norm, head);
    }

    /**
     * Random weights from {@code seed}, every value a float32: embeddings standard normal, linear
     * layers normal with variance 1/in (activations keep their scale through the stack, so attention
     * is far from uniform), norm weights 1 + 0.1·normal.
     */
    public static LlamaWeights random(LlamaConfig c, long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        int h = c.hiddenSize();
        float[] embed = gaussian(rnd, (long) c.vocabSize() * h, 0, 1);
        Layer[] layers = new Layer[c.layers()];
        for (int i = 0; i < c.layers(); i++) {
            float[][] t = new float[LAYER_TENSORS.length][];
            for (int j = 0; j < t.length; j++) {
                long[] shape = expectedShape(c, LAYER_TENSORS[j]);
                t[j] = shape.length == 1 ? gaussian(rnd, shape[0], 1, 0.1)
                        : gaussian(rnd, shape[0] * shape[1], 0, 1 / Math.sqrt(shape[1]));
            }
            layers[i] = new Layer(t[0], t[1], t[2], t[3], t[4], t[5], t[6], t[7], t[8]);
        }
        float[] norm = gaussian(rnd, h, 1, 0.1);
        float[] head = c.tieWordEmbeddings() ? embed : gaussian(rnd, (long) c.vocabSize() * h, 0, 1 / Math.sqrt(h));
        return new LlamaWeights(c, embed, layers, norm, head);
    }

    /** The tensors by checkpoint name and shape, in checkpoint order (no lm_head when tied). */
    public InMemoryWeights tensors() {
        long h = config.hiddenSize();
        InMemoryWeights w = new InMemoryWeights().put(EMBED, embed, config.vocabSize(), h);
        for (int i = 0; i < layers.length; i++) {
            for (int j = 0; j < LAYER_TENSORS.length; j++) {
                w.put(layerName(i, LAYER_TENSORS[j]), layers[i].get(j), expectedShape(config, LAYER_TENSORS[j]));
            }
        }
        w.put(NORM, norm, h);
        if (!config.tieWordEmbeddings()) {
            w.put(LM_HEAD, lmHead, config.vocabSize(), h);
        }
        return w;
    }

    private static float[] read(WeightSource source, String name, long... shape) throws IOException {
        long[] got = source.shape(name);
        if (got == null) {
            throw new ModelFormatException(source.describe() + ": missing tensor " + name + " (expected shape "
                    + Arrays.toString(shape) + ")");
        }
        if (!Arrays.equals(got, shape)) {
            throw new ModelFormatException(source.describe() + ": tensor " + name + " has shape "
                    + Arrays.toString(got) + ", the config needs " + Arrays.toString(shape));
        }
        float[] x = source.floats(name);
        for (int i = 0; i < x.length; i++) {
            if (!Float.isFinite(x[i])) {
                throw new ModelFormatException(source.describe() + ": tensor " + name + " holds " + x[i]
                        + " at element " + i + " (weights must be finite)");
            }
        }
        return x;
    }

    private static float[] gaussian(SplittableRandom rnd, long n, double mean, double std) {
        float[] x = new float[Math.toIntExact(n)];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) (mean + std * rnd.nextGaussian());
        }
        return x;
    }
}
