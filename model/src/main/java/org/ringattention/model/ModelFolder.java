package org.ringattention.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SequencedMap;
import java.util.Set;
import org.ringattention.tensor.DType;
import org.ringattention.tensor.Safetensors;
import org.ringattention.tensor.SafetensorsFile;

/**
 * A Hugging Face model folder: {@code config.json} and the weights, either one
 * {@code model.safetensors} or shards {@code model-0000i-of-0000n.safetensors} listed by
 * {@code model.safetensors.index.json}. Tensor names are LlamaForCausalLM's ({@link LlamaWeights}).
 * The files are read and written by the engine's {@link SafetensorsFile} (memory-mapped; F32, BF16,
 * F16 and F64 widened or narrowed to float32) and {@link Safetensors}.
 */
public final class ModelFolder {

    public static final String CONFIG = "config.json";
    public static final String WEIGHTS = "model.safetensors";
    public static final String INDEX = "model.safetensors.index.json";

    private static final ObjectMapper JSON = new ObjectMapper();

    private ModelFolder() {
    }

    /** Reads the configuration and every weight (memory-mapped, widened to float32, checked). */
    public static LlamaWeights load(Path dir) throws IOException {
        if (!Files.isDirectory(dir)) {
            throw new ModelFormatException(dir + ": not a directory (expected a model folder with " + CONFIG + " and "
                    + WEIGHTS + ")");
        }
        LlamaConfig config = LlamaConfig.read(dir.resolve(CONFIG));
        Path index = dir.resolve(INDEX);
        if (Files.exists(index)) {
            Map<String, String> map = readIndex(index);
            Map<String, WeightSource> files = new LinkedHashMap<>();
            for (String f : new java.util.TreeSet<>(map.values())) {
                files.put(f, new SafetensorsWeights(SafetensorsFile.open(dir.resolve(f))));
            }
            return LlamaWeights.load(config, new Sharded(index, map, files));
        }
        return LlamaWeights.load(config, new SafetensorsWeights(SafetensorsFile.open(dir.resolve(WEIGHTS))));
    }

    /**
     * Writes {@code weights} as a model folder: {@code config.json} and float32 safetensors, in
     * {@code shards} files with an index when shards &gt; 1. Files are written under temporary names
     * and renamed into place once all are complete.
     */
    public static void write(Path dir, LlamaWeights weights, int shards) throws IOException {
        write(dir, weights, shards, DType.FLOAT32);
    }

    /**
     * The same with the weights stored as {@code dtype}: F32, or BF16 or F16 rounded to nearest
     * (a model read back from such a folder holds the rounded weights).
     */
    public static void write(Path dir, LlamaWeights weights, int shards, DType dtype) throws IOException {
        if (dtype != DType.FLOAT32 && dtype != DType.BFLOAT16 && dtype != DType.FLOAT16) {
            throw new IllegalArgumentException("weights are written as F32, BF16 or F16, not " + dtype);
        }
        if (shards < 1) {
            throw new IllegalArgumentException("shards must be >= 1, got " + shards);
        }
        Files.createDirectories(dir);
        Map<String, InMemoryWeights.Entry> all = weights.tensors().entries();
        List<Path[]> staged = new ArrayList<>(); // {temporary, final}
        try {
            staged.add(stage(dir, CONFIG, t -> Files.writeString(t, weights.config().toJson())));
            if (shards == 1) {
                staged.add(stage(dir, WEIGHTS, t -> writeFile(t, all, dtype)));
            } else {
                List<String> names = new ArrayList<>(all.keySet());
                Map<String, String> weightMap = new LinkedHashMap<>();
                long total = 0;
                for (int s = 0; s < shards; s++) {
                    String file = String.format("model-%05d-of-%05d.safetensors", s + 1, shards);
                    Map<String, InMemoryWeights.Entry> part = new LinkedHashMap<>();
                    for (int i = (int) ((long) names.size() * s / shards); i < (long) names.size() * (s + 1) / shards;
                            i++) {
                        part.put(names.get(i), all.get(names.get(i)));
                        weightMap.put(names.get(i), file);
                        total += (long) dtype.bytes() * all.get(names.get(i)).data().length;
                    }
                    staged.add(stage(dir, file, t -> writeFile(t, part, dtype)));
                }
                long size = total;
                staged.add(stage(dir, INDEX, t -> writeIndex(t, weightMap, size)));
            }
            for (Path[] p : staged) {
                Files.move(p[0], p[1], StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            }
            if (shards == 1) {
                Files.deleteIfExists(dir.resolve(INDEX)); // a stale index would win over the new file
            }
        } finally {
            for (Path[] p : staged) {
                Files.deleteIfExists(p[0]);
            }
        }
    }

    private static void writeFile(Path file, Map<String, InMemoryWeights.Entry> tensors, DType dtype)
            throws IOException {
        SequencedMap<String, Safetensors.TensorData> data = new LinkedHashMap<>();
        tensors.forEach((name, e) -> data.put(name, Safetensors.TensorData.ofFloats(dtype, e.shape(), e.data())));
        Safetensors.write(file, data, Map.of("format", "pt"));
    }

    /** The {@code weight_map} of a {@code model.safetensors.index.json}: tensor name to file name. */
    static Map<String, String> readIndex(Path index) throws IOException {
        JsonNode root;
        try {
            root = JSON.readTree(Files.readString(index));
        } catch (IOException e) {
            throw new ModelFormatException(index + ": not valid JSON");
        }
        JsonNode map = root == null ? null : root.get("weight_map");
        if (map == null || !map.isObject()) {
            throw new ModelFormatException(index + ": no weight_map object");
        }
        Map<String, String> out = new LinkedHashMap<>();
        for (Map.Entry<String, JsonNode> e : map.properties()) {
            if (!e.getValue().isTextual()) {
                throw new ModelFormatException(index + ": weight_map entry " + e.getKey() + " is not a file name");
            }
            String f = e.getValue().asText();
            if (f.contains("/") || f.contains("\\") || f.startsWith(".")) {
                throw new ModelFormatException(index + ": weight_map entry " + e.getKey() + " names " + f
                        + ", not a file of the folder");
            }
            out.put(e.getKey(), f);
        }
        return out;
    }

    private static void writeIndex(Path index, Map<String, String> weightMap, long totalBytes) throws IOException {
        ObjectNode root = JSON.createObjectNode();
        root.putObject("metadata").put("total_size", totalBytes);
        ObjectNode map = root.putObject("weight_map");
        weightMap.forEach(map::put);
        Files.writeString(index, JSON.writerWithDefaultPrettyPrinter().writeValueAsString(root) + "\n");
    }

    private interface Writer {
        void write(Path target) throws IOException;
    }

    private static Path[] stage(Path dir, String name, Writer w) throws IOException {
        Path tmp = Files.createTempFile(dir, "." + name, ".tmp");
        Path[] p = {tmp, dir.resolve(name)};
        try {
            w.write(tmp);
        } catch (IOException | RuntimeException e) {
            Files.deleteIfExists(tmp);
            throw e;
        }
        return p;
    }

    /** The tensors of several files, found through the index. */
    private record Sharded(Path index, Map<String, String> map, Map<String, WeightSource> files)
            implements WeightSource {

        @Override
        public Set<String> names() {
            return map.keySet();
        }

        @Override
        public long[] shape(String name) {
            String f = map.get(name);
            return f == null ? null : files.get(f).shape(name);
        }

        @Override
        public float[] floats(String name) throws IOException {
            String f = map.get(name);
            if (f == null || files.get(f).shape(name) == null) {
                throw new ModelFormatException(index + ": tensor " + name + " is not in " + (f == null ? "the index" : f));
            }
            return files.get(f).floats(name);
        }

        @Override
        public String describe() {
            return index.toString();
        }
    }
}
