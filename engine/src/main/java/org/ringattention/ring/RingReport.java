package org.ringattention.ring;

import java.util.List;

/**
 * What a ring run measured: a {@link StepRecord} per device and step, the bytes each device
 * allocated (its query shard, state and results, its two key/value buffers, and its share of the
 * workers' buffers), and the wall time.
 *
 * <p>Overlap = 1 − Σ wait / Σ transfer time over all devices and steps (1 when nothing was sent):
 * the fraction of sending that hid behind computing. Imbalance = max / mean of the pairs each
 * device computed (1 is perfect).
 */
public record RingReport(int devices, Layout layout, List<StepRecord> steps, long[] bytesPerDevice,
        long workspaceBytes, long wallNanos) {

    public RingReport {
        steps = List.copyOf(steps);
        bytesPerDevice = bytesPerDevice.clone();
    }

    /** The fraction of transfer time hidden behind computing, in [0, 1]. */
    public double overlap() {
        long transfer = 0;
        long wait = 0;
        for (StepRecord s : steps) {
            transfer += s.transferNanos();
            wait += s.waitNanos();
        }
        return transfer == 0 ? 1.0 : Math.max(0, Math.min(1, 1.0 - (double) wait / transfer));
    }

    /** Query-key pairs computed by each device. */
    public long[] pairsPerDevice() {
        long[] pairs = new long[devices];
        for (StepRecord s : steps) {
            pairs[s.device()] += s.pairs();
        }
        return pairs;
    }

    /** Max / mean of the pairs computed per device; 1 when no device computed anything. */
    public double imbalance() {
        long[] pairs = pairsPerDevice();
        long max = 0;
        long sum = 0;
        for (long p : pairs) {
            max = Math.max(max, p);
            sum += p;
        }
        return sum == 0 ? 1.0 : max * (double) devices / sum;
    }

    /** Bytes sent over all links. */
    public long bytesSent() {
        long sum = 0;
        for (StepRecord s : steps) {
            sum += s.bytesSent();
        }
        return sum;
    }

    /** The largest number of bytes one device allocated. */
    public long maxBytesPerDevice() {
        long max = 0;
        for (long b : bytesPerDevice) {
            max = Math.max(max, b);
        }
        return max;
    }
}
