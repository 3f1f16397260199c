package org.ringattention.model;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;

/**
 * The sizes of a Llama-family decoder, read from a Hugging Face {@code config.json} with the keys
 * of LlamaForCausalLM: hidden_size h, intermediate_size I, num_hidden_layers L,
 * num_attention_heads Hq, num_key_value_heads Hkv (default Hq), head_dim d (default h / Hq),
 * rms_norm_eps, rope_theta, vocab_size V, tie_word_embeddings. Other keys are ignored.
 */
public record LlamaConfig(int hiddenSize, int intermediateSize, int layers, int heads, int kvHeads, int headDim,
        double rmsNormEps, double ropeTheta, int vocabSize, boolean tieWordEmbeddings) {

    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    public LlamaConfig {
        positive("hidden_size", hiddenSize);
        positive("intermediate_size", intermediateSize);
        positive("num_hidden_layers", layers);
        positive("num_attention_heads", heads);
        positive("num_key_value_heads", kvHeads);
        positive("head_dim", headDim);
        positive("vocab_size", vocabSize);
        if (heads % kvHeads != 0) {
            throw new IllegalArgumentException("num_attention_heads (" + heads
                    + ") must be a multiple of num_key_value_heads (" + kvHeads + ")");
        }
        if (headDim % 2 != 0) {
            throw new IllegalArgumentException("head_dim must be even for rotary embeddings, got " + headDim);
        }
        if (!(rmsNormEps >= 0) || !Double.isFinite(rmsNormEps)) {
            throw new IllegalArgumentException("rms_norm_eps must be finite and >= 0, got " + rmsNormEps);
        }
        if (!(ropeTheta > 0) || !Double.isFinite(ropeTheta)) {
            throw new IllegalArgumentException("rope_theta must be finite and > 0, got " + ropeTheta);
        }
    }

    /** Query heads per key/value head. */
    public int group() {
        return heads / kvHeads;
    }

    /** Width of the query projection, Hq·d. */
    public int qWidth() {
        return heads * headDim;
    }

    /** Width of the key and value projections, Hkv·d. */
    public int kvWidth() {
        return kvHeads * headDim;
    }

    /** Parameters of the model (the LM head counted once when tied). */
    public long parameters() {
        long h = hiddenSize;
        long layer = 2 * h + h * qWidth() + 2 * h * kvWidth() + (long) qWidth() * h + 3 * h * intermediateSize;
        return layers * layer + h + (long) vocabSize * h * (tieWordEmbeddings ? 1 : 2);
    }

    /** Reads {@code config.json}; errors name the file and the key. */
    public static LlamaConfig read(Path file) throws IOException {
        String text;
        try {
            text = Files.readString(file);
        } catch (NoSuchFileException e) {
            throw new ModelFormatException(file + ": no such file");
        }
        try {
            return parse(text);
        } catch (IllegalArgumentException e) {
            throw new ModelFormatException(file + ": " + e.getMessage());
        }
    }

    /** Parses the text of a {@code config.json}. */
    public static LlamaConfig parse(String json) {
        JsonNode root;
        try {
            root = JSON.readTree(json);
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException("not valid JSON: " + e.getOriginalMessage());
        }
        if (root == null || !root.isObject()) {
            throw new IllegalArgumentException("expected a JSON object");
        }
        int hidden = integer(root, "hidden_size", null);
        int heads = integer(root, "num_attention_heads", null);
        int kvHeads = integer(root, "num_key_value_heads", heads);
        if (!root.hasNonNull("head_dim") && hidden % heads != 0) {
            throw new IllegalArgumentException("hidden_size (" + hidden + ") is not a multiple of"
                    + " num_attention_heads (" + heads + ") and head_dim is not given");
        }
        int headDim = integer(root, "head_dim", hidden / heads);
        return new LlamaConfig(hidden, integer(root, "intermediate_size", null),
                integer(root, "num_hidden_layers", null), heads, kvHeads, headDim,
                number(root, "rms_norm_eps", 1e-6), number(root, "rope_theta", 10000.0),
                integer(root, "vocab_size", null), bool(root, "tie_word_embeddings", false));
    }

    /** This configuration as a {@code config.json} that Hugging Face transformers reads as LlamaForCausalLM. */
    public String toJson() {
        ObjectNode o = JSON.createObjectNode();
        o.putArray("architectures").add("LlamaForCausalLM");
        o.put("model_type", "llama");
        o.put("hidden_size", hiddenSize);
        o.put("intermediate_size", intermediateSize);
        o.put("num_hidden_layers", layers);
        o.put("num_attention_heads", heads);
        o.put("num_key_value_heads", kvHeads);
        o.put("head_dim", headDim);
        o.put("rms_norm_eps", rmsNormEps);
        o.put("rope_theta", ropeTheta);
        o.put("vocab_size", vocabSize);
        o.put("tie_word_embeddings", tieWordEmbeddings);
        o.put("hidden_act", "silu");
        o.put("attention_bias", false);
        o.put("mlp_bias", false);
        o.put("torch_dtype", "float32");
        try {
            return JSON.writeValueAsString(o) + "\n";
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    private static int integer(JsonNode root, String key, Integer fallback) {
        JsonNode n = root.get(key);
        if (n == null || n.isNull()) {
            if (fallback == null) {
                throw new IllegalArgumentException("missing key " + key);
            }
            return fallback;
        }
        if (!n.isIntegralNumber() || !n.canConvertToInt()) {
            throw new IllegalArgumentException(key + " must be an integer, got " + n);
        }
        return n.intValue();
    }

    private static double number(JsonNode root, String key, double fallback) {
        JsonNode n = root.get(key);
        if (n == null || n.isNull()) {
            return fallback;
        }
        if (!n.isNumber()) {
            throw new IllegalArgumentException(key + " must be a number, got " + n);
        }
        return n.doubleValue();
    }

    private static boolean bool(JsonNode root, String key, boolean fallback) {
        JsonNode n = root.get(key);
        if (n == null || n.isNull()) {
            return fallback;
        }
        if (!n.isBoolean()) {
            throw new IllegalArgumentException(key + " must be true or false, got " + n);
        }
        return n.booleanValue();
    }

    private static void positive(String key, int value) {
        if (value < 1) {
            throw new IllegalArgumentException(key + " must be >= 1, got " + value);
        }
    }
}
