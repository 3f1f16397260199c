package org.ringattention.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.ringattention.tensor.BFloat16;
import org.ringattention.tensor.DType;
import org.ringattention.tensor.SafetensorsFile;

class ModelFolderTest {

    @Test
    void writtenFoldersReadBackBitForBitInOneFileAndInShards(@TempDir Path dir) throws IOException {
        for (LlamaConfig c : new LlamaConfig[] {ModelFixtures.tiny(), ModelFixtures.tied()}) {
            LlamaWeights w = LlamaWeights.random(c, 5);
            for (int shards : new int[] {1, 4}) {
                Path m = dir.resolve(c.tieWordEmbeddings() + "-" + shards);
                ModelFolder.write(m, w, shards);
                assertThat(Files.exists(m.resolve(ModelFolder.INDEX))).isEqualTo(shards > 1);
                LlamaWeights r = ModelFolder.load(m);
                assertThat(r.config()).isEqualTo(c);
                Map<String, InMemoryWeights.Entry> a = w.tensors().entries();
                Map<String, InMemoryWeights.Entry> b = r.tensors().entries();
                assertThat(b.keySet()).containsExactlyElementsOf(a.keySet());
                a.forEach((name, e) -> assertThat(b.get(name).data()).as(name).containsExactly(e.data()));
            }
        }
        try (var files = Files.list(dir.resolve("false-1"))) {
            assertThat(files.map(p -> p.getFileName().toString())).containsExactlyInAnyOrder("config.json",
                    "model.safetensors"); // no temporary files left
        }
    }

    @Test
    void bf16AndF16FoldersHoldTheRoundedWeightsWidened(@TempDir Path dir) throws IOException {
        LlamaWeights w = LlamaWeights.random(ModelFixtures.tiny(), 8);
        for (DType dtype : new DType[] {DType.BFLOAT16, DType.FLOAT16}) {
            Path m = dir.resolve(dtype.toString());
            ModelFolder.write(m, w, 2, dtype);
            assertThat(SafetensorsFile.open(m.resolve("model-00001-of-00002.safetensors")).dtype(LlamaWeights.EMBED))
                    .isEqualTo(dtype);
            Map<String, InMemoryWeights.Entry> got = ModelFolder.load(m).tensors().entries();
            w.tensors().entries().forEach((name, e) -> {
                float[] x = got.get(name).data();
                for (int i = 0; i < x.length; i++) {
                    float want = dtype == DType.FLOAT16 ? Float.float16ToFloat(Float.floatToFloat16(e.data()[i]))
                            : Float.intBitsToFloat(BFloat16.fromFloat(e.data()[i]) << 16);
                    assertThat(x[i]).as("%s %s[%d]", dtype, name, i).isEqualTo(want);
                }
            });
        }
    }

    @Test
    void malformedFilesAreRefusedNamingFileAndTensor(@TempDir Path dir) throws IOException {
        Path m = dir.resolve("m");
        ModelFolder.write(m, LlamaWeights.random(ModelFixtures.tied(), 2), 1);
        Path f = m.resolve(ModelFolder.WEIGHTS);
        byte[] bytes = Files.readAllBytes(f);
        Files.write(f, java.util.Arrays.copyOf(bytes, bytes.length - 4)); // the last tensor loses a float
        assertThatThrownBy(() -> ModelFolder.load(m)).isInstanceOf(IOException.class)
                .hasMessageContaining("model.safetensors").hasMessageContaining(LlamaWeights.NORM);
        Files.writeString(m.resolve(ModelFolder.INDEX), "{\"weight_map\": {\"model.norm.weight\": \"../x\"}}");
        assertThatThrownBy(() -> ModelFolder.load(m)).hasMessageContaining("not a file of the folder");
    }

    @Test
    void missingOrMisshapenTensorsAreNamed(@TempDir Path dir) throws IOException {
        LlamaConfig c = ModelFixtures.tiny();
        InMemoryWeights w = LlamaWeights.random(c, 1).tensors();
        float[] q = w.floats("model.layers.1.self_attn.q_proj.weight");
        w.remove("model.layers.1.self_attn.q_proj.weight");
        assertThatThrownBy(() -> LlamaWeights.load(c, w)).isInstanceOf(ModelFormatException.class)
                .hasMessageContaining("missing tensor model.layers.1.self_attn.q_proj.weight (expected shape [24, 20])");
        w.put("model.layers.1.self_attn.q_proj.weight", q, 20, 24);
        assertThatThrownBy(() -> LlamaWeights.load(c, w))
                .hasMessageContaining("tensor model.layers.1.self_attn.q_proj.weight has shape [20, 24], the config"
                        + " needs [24, 20]");
        float[] bad = q.clone();
        bad[7] = Float.NaN;
        w.put("model.layers.1.self_attn.q_proj.weight", bad, 24, 20);
        assertThatThrownBy(() -> LlamaWeights.load(c, w)).hasMessageContaining("holds NaN at element 7");
        w.put("model.layers.1.self_attn.q_proj.weight", q, 24, 20).remove(LlamaWeights.LM_HEAD);
        assertThatThrownBy(() -> LlamaWeights.load(c, w)).hasMessageContaining("missing tensor lm_head.weight");
    }

    @Test
    void badConfigsAndFoldersAreNamed(@TempDir Path dir) throws IOException {
        assertThatThrownBy(() -> LlamaConfig.parse("{\"hidden_size\": 8}")).hasMessageContaining(
                "missing key num_attention_heads");
        assertThatThrownBy(() -> LlamaConfig.parse("""
                {"hidden_size": 8, "num_attention_heads": 3, "intermediate_size": 4, "num_hidden_layers": 1,
                 "vocab_size": 5}""")).hasMessageContaining("not a multiple of num_attention_heads");
        assertThatThrownBy(() -> LlamaConfig.parse("""
                {"hidden_size": 8, "num_attention_heads": 4, "num_key_value_heads": 3, "intermediate_size": 4,
                 "num_hidden_layers": 1, "vocab_size": 5}""")).hasMessageContaining("multiple of num_key_value_heads");
        LlamaConfig defaults = LlamaConfig.parse("""
                {"hidden_size": 8, "num_attention_heads": 2, "intermediate_size": 4, "num_hidden_layers": 1,
                 "vocab_size": 5, "some_other_key": [1, 2]}""");
        assertThat(defaults.kvHeads()).isEqualTo(2);
        assertThat(defaults.headDim()).isEqualTo(4);
        assertThat(defaults.ropeTheta()).isEqualTo(10000.0);
        assertThat(LlamaConfig.parse(defaults.toJson())).isEqualTo(defaults);
        assertThatThrownBy(() -> ModelFolder.load(dir.resolve("nope"))).hasMessageContaining("not a directory");
        Files.writeString(dir.resolve("config.json"), ModelFixtures.tiny().toJson());
        assertThatThrownBy(() -> ModelFolder.load(dir)).hasMessageContaining("model.safetensors: cannot read: no such file");
    }
}
