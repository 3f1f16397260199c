package org.ringattention.model;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A Hugging Face model folder: {@code config.json} and the weights, either one
 * {@code model.safetensors} or shards {@code model-0000i-of-0000n.safetensors} listed by
 * {@code model.safetensors.index.json}. Tensor names are LlamaForCausalLM's ({@link LlamaWeights}).
 */
public final class ModelFolder {

    public static final String CONFIG = "config.json";
    public static final String WEIGHTS = "model.safetensors";
    public static final String INDEX = "model.safetensors.index.json";

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
            Map<String, String> map = Checkpoint.readIndex(index);
            Map<String, Checkpoint> files = new LinkedHashMap<>();
            try {
                for (String f : new java.util.TreeSet<>(map.values())) {
                    files.put(f, Checkpoint.open(dir.resolve(f)));
                }
                return LlamaWeights.load(config, new Sharded(index, map, files));
            } finally {
                files.values().forEach(Checkpoint::close);
            }
        }
        try (Checkpoint c = Checkpoint.open(dir.resolve(WEIGHTS))) {
            return LlamaWeights.load(config, c);
        }
    }

    /**
     * Writes {@code weights} as a model folder: {@code config.json} and float32 safetensors, in
     * {@code shards} files with an index when shards &gt; 1. Files are written under temporary names
     * and renamed into place once all are complete.
     */
    public static void write(Path dir, LlamaWeights weights, int shards) throws IOException {
        if (shards < 1) {
            throw new IllegalArgumentException("shards must be >= 1, got " + shards);
        }
        Files.createDirectories(dir);
        Map<String, InMemoryWeights.Entry> all = weights.tensors().entries();
        List<Path[]> staged = new ArrayList<>(); // {temporary, final}
        try {
            staged.add(stage(dir, CONFIG, t -> Files.writeString(t, weights.config().toJson())));
            if (shards == 1) {
                staged.add(stage(dir, WEIGHTS, t -> Checkpoint.writeF32(t, all)));
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
                        total += 4L * all.get(names.get(i)).data().length;
                    }
                    staged.add(stage(dir, file, t -> Checkpoint.writeF32(t, part)));
                }
                long size = total;
                staged.add(stage(dir, INDEX, t -> Checkpoint.writeIndex(t, weightMap, size)));
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
    private record Sharded(Path index, Map<String, String> map, Map<String, Checkpoint> files)
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
