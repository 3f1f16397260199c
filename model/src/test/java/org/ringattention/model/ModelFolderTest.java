package org.ringattention.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

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
    void bf16AndF16AreWidened(@TempDir Path dir) throws IOException {
        Path f = dir.resolve("x.safetensors");
        // 1.5, -2, 0.099609375 in BF16 (0x3FC0, 0xC000, 0x3DCC) and F16 (0x3E00, 0xC000, 0x2E60)
        writeRaw(f, "{\"a\":{\"dtype\":\"BF16\",\"shape\":[3],\"data_offsets\":[0,6]},"
                + "\"b\":{\"dtype\":\"F16\",\"shape\":[1,3],\"data_offsets\":[6,12]}}",
                new short[] {0x3FC0, (short) 0xC000, 0x3DCC, 0x3E00, (short) 0xC000, 0x2E60});
        try (Checkpoint c = Checkpoint.open(f)) {
            assertThat(c.floats("a")).containsExactly(1.5f, -2f, 0.099609375f);
            assertThat(c.shape("b")).containsExactly(1, 3);
            assertThat(c.floats("b")).containsExactly(1.5f, -2f, 0.099609375f);
        }
    }

    @Test
    void malformedFilesAreRefusedNamingFileAndTensor(@TempDir Path dir) throws IOException {
        Path f = dir.resolve("bad.safetensors");
        writeRaw(f, "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,12]}}", new short[6]);
        assertThatThrownBy(() -> Checkpoint.open(f)).isInstanceOf(ModelFormatException.class)
                .hasMessageContaining("bad.safetensors").hasMessageContaining("tensor a holds 12 bytes");
        writeRaw(f, "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", new short[6]);
        assertThatThrownBy(() -> Checkpoint.open(f)).hasMessageContaining("tensor a has data_offsets [0, 16]");
        Files.write(f, new byte[] {1, 2, 3});
        assertThatThrownBy(() -> Checkpoint.open(f)).hasMessageContaining("too short");
        writeRaw(f, "{not json", new short[0]);
        assertThatThrownBy(() -> Checkpoint.open(f)).hasMessageContaining("not valid JSON");
        writeRaw(f, "{\"a\":{\"dtype\":\"I8\",\"shape\":[2],\"data_offsets\":[0,2]}}", new short[1]);
        try (Checkpoint c = Checkpoint.open(f)) {
            assertThatThrownBy(() -> c.floats("a")).hasMessageContaining("tensor a has dtype I8");
        }
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
        assertThatThrownBy(() -> ModelFolder.load(dir)).hasMessageContaining("model.safetensors: no such file");
    }

    private static void writeRaw(Path f, String header, short[] data) throws IOException {
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(8 + h.length + 2 * data.length).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(h.length).put(h);
        for (short s : data) {
            b.putShort(s);
        }
        Files.write(f, b.array());
    }
}
