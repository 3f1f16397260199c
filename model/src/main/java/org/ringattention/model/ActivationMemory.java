package org.ringattention.model;

/**
 * Activation memory of one decoder layer per device, in float32 bytes, counted from the arrays
 * each scheme holds at its peak (weights and the KV cache of decoding excluded), for batch b,
 * sequence N, hidden h, query width Hq·d, key/value width Hkv·d and intermediate I:
 * <pre>
 *   vanilla attention, whole-sequence FFN:       N·(h + 2·Hq·d + 2·Hkv·d) + Hq·N² + 2·N·I
 *   memory-efficient attention, whole-seq. FFN:  N·(h + 2·Hq·d + 2·Hkv·d) + Hq·N·(2 + d) + 2·N·I
 *   blockwise transformer over P devices, c = ⌈N/P⌉:
 *       c·(h + 2·Hq·d + 2·Hkv·d) + 4·c·Hkv·d + Hq·c·(2 + d) + T·(B·(2·I + 3·h + Hq·d + 2·Hkv·d) + B_q·B_kv)
 * </pre>
 * (hidden states; q, k, v, o of the tokens held; for the ring the two key/value buffers, the one
 * computed on and the one arriving; the online-softmax state m, l, õ; per worker thread T the
 * feed-forward and projection scratch of a block of B rows and a score tile B_q × B_kv), all times b
 * and 4 bytes. With c fixed the blockwise transformer's count does not grow with N.
 *
 * <p>The paper's Table 1 (Liu, Zaharia, Abbeel), as the issue quotes it, counts 2·b·h·s² for vanilla
 * attention, 8·b·s·h for memory-efficient attention without a blockwise feed-forward and 6·b·c·h for
 * Ring Attention; {@link #paperVanilla} and friends return those counts doubled, on the assumption
 * that they count bytes of 2-byte activations, to set them beside float32 bytes.
 */
public record ActivationMemory(LlamaConfig config, int batch, int blockRows, int blockQ, int blockKv, int threads) {

    private double perToken() {
        return config.hiddenSize() + 2.0 * config.qWidth() + 2.0 * config.kvWidth();
    }

    private double ffn(double n) {
        return 2.0 * n * config.intermediateSize();
    }

    private double state(double n) {
        return config.heads() * n * (2.0 + config.headDim());
    }

    public double vanilla(long n) {
        return 4.0 * batch * (n * perToken() + (double) config.heads() * n * n + ffn(n));
    }

    public double memoryEfficient(long n) {
        return 4.0 * batch * (n * perToken() + state(n) + ffn(n));
    }

    /** The blockwise transformer on each of {@code devices} devices. */
    public double blockwise(long n, int devices) {
        double c = Math.ceil((double) n / devices);
        double rows = Math.min(blockRows, c);
        double scratch = threads * (rows * (2.0 * config.intermediateSize() + 3.0 * config.hiddenSize()
                + config.qWidth() + 2.0 * config.kvWidth()) + (double) Math.min(blockQ, c) * Math.min(blockKv, c));
        return 4.0 * batch * (c * perToken() + 4.0 * c * config.kvWidth() + state(c)) + 4.0 * scratch;
    }

    public double paperVanilla(long n) {
        return 2 * 2.0 * batch * config.hiddenSize() * (double) n * n;
    }

    public double paperMemoryEfficient(long n) {
        return 2 * 8.0 * batch * n * config.hiddenSize();
    }

    public double paperRing(long n, int devices) {
        return 2 * 6.0 * batch * Math.ceil((double) n / devices) * config.hiddenSize();
    }
}
