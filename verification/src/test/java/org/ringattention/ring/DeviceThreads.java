package org.ringattention.ring;

import org.ringattention.attention.Problem;
import org.ringattention.tensor.Tensor;

/** Runs device i of a ring on thread "test-device-i", all joined by one set of links, as separate processes would. */
final class DeviceThreads {

    private DeviceThreads() {
    }

    /**
     * Each device's result (forward, and backward when {@code backward}); an AssertionError with the
     * first device's failure as its cause when any device failed.
     */
    static DeviceResult[] run(RingAttention ring, Problem p, int devices, boolean backward, Links links)
            throws InterruptedException {
        DeviceResult[] results = new DeviceResult[devices];
        Throwable[] failures = attempt(ring, p, devices, backward ? p.dOutTensor() : null, links, results);
        for (int i = 0; i < devices; i++) {
            if (failures[i] != null) {
                throw new AssertionError("device " + i + " failed", failures[i]);
            }
        }
        return results;
    }

    /**
     * Runs every device with {@code dOut} (null: forward only), each result into {@code results};
     * returns what each device threw (null where it did not).
     */
    static Throwable[] attempt(RingAttention ring, Problem p, int devices, Tensor dOut, Links links,
            DeviceResult[] results) throws InterruptedException {
        Throwable[] failures = new Throwable[devices];
        Thread[] threads = new Thread[devices];
        for (int i = 0; i < devices; i++) {
            int device = i;
            threads[i] = Thread.ofPlatform().name("test-device-" + i).start(() -> {
                try {
                    results[device] = ring.runDevice(device, p.qTensor(), p.kTensor(), p.vTensor(), dOut, p.spec(),
                            links);
                } catch (Throwable t) {
                    failures[device] = t;
                }
            });
        }
        for (Thread t : threads) {
            t.join();
        }
        return failures;
    }
}
