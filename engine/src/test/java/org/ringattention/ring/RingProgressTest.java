package org.ringattention.ring;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.ringattention.ring.ShardlessRing.HANG;

import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;
import org.junit.jupiter.api.Test;
import org.ringattention.attention.ShardAttention;
import org.ringattention.tasks.Tasks;

/**
 * Where a ring reports progress to its supervision (what keeps a healthy ring from being failed as
 * stalled): once on the caller's thread as step 0 starts, twice per step on each device's thread
 * (its tasks published, the step ended) and once per task on the worker that ran it. Counted by
 * thread, so that each report is seen on its own; a ring of devices without shards on
 * {@link ReadyLinks}, with two tasks per step.
 */
class RingProgressTest {

    private static final int TASKS = 2;
    private static final int WORKERS = 2;
    private static final long SECOND = TimeUnit.SECONDS.toNanos(1);

    /** A supervision that counts the progress reports by the kind of thread that made them. */
    static final class Counting extends Supervision {
        private final Map<String, Integer> byThread = new TreeMap<>();

        /**
         * A stall timeout of 3 s on a clock that moves 1 s a look only once every device thread of
         * {@code devices} has ended: a ring whose ended devices were not all counted as ended stalls
         * then, rather than waiting for ever.
         */
        Counting(Device[] devices) {
            super(3 * SECOND, new LongSupplier() {
                private long now;

                @Override
                public long getAsLong() {
                    for (Device d : devices) {
                        Thread t = d.thread;
                        if (t == null || t.isAlive()) {
                            return now;
                        }
                    }
                    return now += SECOND;
                }
            });
        }

        @Override
        void progress() {
            String name = Thread.currentThread().getName();
            String kind = name.startsWith("ring-worker-") ? "workers" : name.startsWith("ring-device-") ? name : "caller";
            synchronized (byThread) {
                byThread.merge(kind, 1, Integer::sum);
            }
            super.progress();
        }

        Map<String, Integer> counts() {
            synchronized (byThread) {
                return new TreeMap<>(byThread);
            }
        }
    }

    private static Ring ring(Device[] ds, boolean gradients) {
        Ring.Work work = (device, step) -> Tasks.<ShardAttention.Workspace>of(TASKS, (w, task) -> 1);
        return ShardlessRing.ring(ds, gradients, new ReadyLinks(-1), work, WORKERS);
    }

    private static void assertReports(int devices, boolean gradients) {
        Device[] ds = ShardlessRing.devices(devices);
        Counting supervision = new Counting(ds);
        List<StepRecord> steps = assertTimeoutPreemptively(HANG, () -> ring(ds, gradients).run(supervision));

        assertEquals(devices * devices, steps.size(), "a record per device and step");
        Map<String, Integer> expected = new TreeMap<>();
        expected.put("caller", 1);
        for (int i = 0; i < devices; i++) {
            expected.put("ring-device-" + i, 2 * devices);
        }
        expected.put("workers", devices * devices * TASKS);
        assertEquals(expected, supervision.counts());
    }

    @Test
    void aRingOfOneDeviceReportsStepZerosStartEachStepsTasksAndEndAndEachTask() {
        assertReports(1, false);
    }

    @Test
    void aForwardPassOfThreeDevicesReportsAsOftenPerStep() {
        assertReports(3, false);
    }

    @Test
    void aBackwardPassOfThreeDevicesReportsAsOftenPerStep() {
        assertReports(3, true);
    }
}
