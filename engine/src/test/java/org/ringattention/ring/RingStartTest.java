package org.ringattention.ring;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.ringattention.attention.ShardAttention;
import org.ringattention.tasks.Tasks;

/**
 * Ring's start: step 0 begins once every thread of the ring is up (so that its times leave out
 * thread start-up), seen by the work itself, which lists the ring's live worker threads when a
 * device asks it for step 0's tasks. A ring of one device (no links) with eight workers, whose
 * threads start after the device's.
 */
class RingStartTest {

    @Test
    void stepZeroStartsOnceEveryThreadOfTheRingIsUp() {
        int workers = 8;
        List<Set<String>> seen = new ArrayList<>();
        Ring.Work work = (device, step) -> {
            Set<String> alive = new TreeSet<>();
            for (Thread t : Thread.getAllStackTraces().keySet()) {
                if (t.getName().startsWith("ring-worker-") && t.isAlive()) {
                    alive.add(t.getName());
                }
            }
            seen.add(alive);
            return Tasks.<ShardAttention.Workspace>of(2, (w, task) -> 1);
        };
        Device device = new Device(0, null, null, null);
        List<StepRecord> steps = new Ring(new Device[] {device}, 1, false, null, 0, FaultInjector.NONE, work,
                new ShardAttention.Workspace[workers], TimeUnit.MINUTES.toNanos(10), owner -> null).run();

        assertEquals(1, steps.size());
        assertEquals(2, steps.get(0).pairs(), "both tasks ran");
        Set<String> all = new TreeSet<>();
        for (int w = 0; w < workers; w++) {
            all.add("ring-worker-" + w);
        }
        assertEquals(1, seen.size());
        assertEquals(all, seen.get(0), "the workers alive when step 0 began");
    }
}
