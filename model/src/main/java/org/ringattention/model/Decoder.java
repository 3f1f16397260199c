package org.ringattention.model;

import java.util.Objects;
import org.ringattention.attention.AttentionEngine;
import org.ringattention.attention.Positions;
import org.ringattention.attention.SoftmaxPartial;

/**
 * Autoregressive decoding over a sharded KV cache. {@link #prefill} runs the prompt through the
 * model (attention by the engine, the ring over P devices) and keeps each device's keys and values
 * ({@link KvCache}). Each {@link #step} then computes the new token's q, k, v at position t; its
 * K and V join one device's shard (the append rule of {@link KvCache}); its query goes to every
 * device, each device computes the partial (m, l, õ) of the query heads over the keys it holds
 * ({@link SoftmaxPartial#overBlocks}, reading the cache's blocks where they lie: no cached key or
 * value is re-packed or copied, but for the last block's keys, and the scratch arrays are kept
 * between steps), and the partials merge in device order 0, 1, …, P − 1, so the result does not
 * depend on which device answers first. Projections and the feed-forward of the step are the
 * model's own ({@link LlamaModel}), so a step differs from a fresh forward pass only in the order
 * attention sums its keys.
 *
 * <p>Not thread-safe; one sequence batch per decoder.
 */
public final class Decoder {

    private final LlamaModel model;
    private final AttentionEngine engine;
    private final Sharding sharding;
    private final LlamaConfig c;
    private final float scale;
    private final int cacheBlock;
    private final SoftmaxPartial.Workspace work = new SoftmaxPartial.Workspace();
    private KvCache cache;
    private int batch;
    private int position;

    public Decoder(LlamaModel model, AttentionEngine engine, Sharding sharding) {
        this(model, engine, sharding, KvCache.BLOCK);
    }

    /** With {@code cacheBlock} tokens per cache block (a multiple of {@code Kernels.CHUNK}): for tests. */
    Decoder(LlamaModel model, AttentionEngine engine, Sharding sharding, int cacheBlock) {
        if (cacheBlock < 1 || cacheBlock % org.ringattention.kernel.Kernels.CHUNK != 0) {
            throw new IllegalArgumentException("cache blocks must be a positive multiple of "
                    + org.ringattention.kernel.Kernels.CHUNK + " tokens, got " + cacheBlock);
        }
        this.cacheBlock = cacheBlock;
        this.model = Objects.requireNonNull(model, "model");
        this.engine = Objects.requireNonNull(engine, "engine");
        this.sharding = Objects.requireNonNull(sharding, "sharding");
        this.c = model.config();
        this.scale = (float) (1.0 / Math.sqrt(c.headDim()));
    }

    /** Runs the prompt [B, N] and returns the logits [B, V] of its last position; starts a new cache. */
    public float[] prefill(int[] tokens, int batch) {
        int n = LlamaModel.checkTokens(tokens, batch, c.vocabSize());
        if (sharding.devices() > n) {
            throw new IllegalArgumentException("the prompt (" + n + " tokens) must be at least as long as the number"
                    + " of devices (" + sharding.devices() + ")");
        }
        Positions[] shards = sharding.split(n);
        KvCache kv = new KvCache(shards.length, c.layers(), batch, c.kvHeads(), c.headDim(), cacheBlock);
        float[] all = model.forward(tokens, batch, engine, sharding, (layer, k, v) -> {
            for (int dev = 0; dev < shards.length; dev++) {
                kv.fill(dev, layer, k, v, shards[dev]);
            }
        });
        this.cache = kv;
        this.batch = batch;
        this.position = n;
        int vocab = c.vocabSize();
        float[] last = new float[batch * vocab];
        for (int b = 0; b < batch; b++) {
            System.arraycopy(all, ((b + 1) * n - 1) * vocab, last, b * vocab, vocab);
        }
        return last;
    }

    /** Appends one token per batch row ({@code next} [B]) and returns the logits [B, V] at its position. */
    public float[] step(int[] next) {
        if (cache == null) {
            throw new IllegalStateException("prefill first");
        }
        if (next.length != batch) {
            throw new IllegalArgumentException("need " + batch + " tokens (one per batch row), got " + next.length);
        }
        LlamaModel.checkTokens(next, batch, c.vocabSize());
        int h = c.hiddenSize();
        int d = c.headDim();
        int group = c.group();
        float[] x = new float[batch * h];
        for (int b = 0; b < batch; b++) {
            System.arraycopy(model.weights().embed(), next[b] * h, x, b * h, h);
        }
        double[] angles = model.rope().angles(position); // every row and layer of the step sits at this position
        int owner = cache.owner();
        float[] q = new float[batch * c.qWidth()];
        float[] k = new float[batch * c.kvWidth()];
        float[] v = new float[batch * c.kvWidth()];
        float[] o = new float[batch * c.qWidth()];
        for (int layer = 0; layer < c.layers(); layer++) {
            model.projectAt(layer, x, 0, batch, angles, q, k, v);
            cache.put(owner, layer, k, v);
            for (int b = 0; b < batch; b++) {
                for (int g = 0; g < c.kvHeads(); g++) {
                    int head = b * c.kvHeads() + g;
                    int qOff = b * c.qWidth() + g * group * d; // the group's query heads are adjacent in the row
                    SoftmaxPartial merged = null;
                    for (int dev = 0; dev < cache.devices(); dev++) {
                        int keys = cache.length(dev) + (dev == owner ? 1 : 0);
                        SoftmaxPartial p = SoftmaxPartial.overBlocks(model.kernels(), q, qOff, group,
                                cache.keys(dev, layer, head), cache.values(dev, layer, head), cache.block(), keys, d,
                                scale, work);
                        if (merged == null) {
                            merged = p;
                        } else {
                            merged.merge(p);
                        }
                    }
                    merged.finish(o, qOff);
                }
            }
            model.finishLayer(layer, x, 0, batch, o);
        }
        cache.commit(owner);
        position++;
        float[] logits = new float[batch * c.vocabSize()];
        model.head(x, 0, batch, logits);
        return logits;
    }

    /** Tokens in the cache (prompt plus decoded), per batch row. */
    public int length() {
        return position;
    }

    /** Tokens each device's cache holds. */
    public int[] deviceLengths() {
        int[] n = new int[cache.devices()];
        for (int i = 0; i < n.length; i++) {
            n[i] = cache.length(i);
        }
        return n;
    }

    /** Bytes of keys and values device {@code dev} holds. */
    public long cacheBytes(int dev) {
        return cache.bytes(dev);
    }
}
