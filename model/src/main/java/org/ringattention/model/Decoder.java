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
 * <p><b>Threads.</b> A step runs on the model's {@link LlamaModel#threads()}: the partials of every
 * (head, device) pair are tasks of their own, and the step's linear layers share out W's panels;
 * each element is computed by the same code in the same order whatever thread computes it, so the
 * bits do not depend on the thread count.
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
    private final ThreadLocal<SoftmaxPartial.Workspace> work = ThreadLocal.withInitial(SoftmaxPartial.Workspace::new);
    private final Tasks tasks; // null on one thread; kept between steps, its idle workers end by themselves
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
        this.tasks = model.threads() == 1 ? null : new Tasks(model.threads());
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
            model.projectAt(layer, x, 0, batch, angles, q, k, v, tasks);
            cache.put(owner, layer, k, v);
            // every (head, device) partial is a task of its own; the merge below keeps device order
            int l = layer;
            int devices = cache.devices();
            SoftmaxPartial[] parts = new SoftmaxPartial[batch * c.kvHeads() * devices];
            run(parts.length, t -> {
                int head = t / devices; // b · Hkv + g
                int dev = t % devices;
                int qOff = queryOffset(head);
                int keys = cache.length(dev) + (dev == owner ? 1 : 0);
                parts[t] = SoftmaxPartial.overBlocks(model.kernels(), q, qOff, group, cache.keys(dev, l, head),
                        cache.values(dev, l, head), cache.block(), keys, d, scale, work.get());
            });
            for (int head = 0; head < batch * c.kvHeads(); head++) {
                SoftmaxPartial merged = parts[head * devices];
                for (int dev = 1; dev < devices; dev++) {
                    merged.merge(parts[head * devices + dev]);
                }
                merged.finish(o, queryOffset(head));
            }
            model.finishLayer(layer, x, 0, batch, o, tasks);
        }
        cache.commit(owner);
        position++;
        float[] logits = new float[batch * c.vocabSize()];
        model.head(x, 0, batch, logits, tasks);
        return logits;
    }

    /** Where head (b, g) = b·Hkv + g's group of query heads starts in a row of q [B × Hq·d]: they are adjacent. */
    private int queryOffset(int head) {
        return (head / c.kvHeads()) * c.qWidth() + (head % c.kvHeads()) * c.group() * c.headDim();
    }

    private void run(int n, java.util.function.IntConsumer task) {
        if (tasks == null) {
            for (int i = 0; i < n; i++) {
                task.accept(i);
            }
        } else {
            tasks.run(n, task);
        }
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
