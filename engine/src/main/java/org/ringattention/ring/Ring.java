package org.ringattention.ring;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import org.ringattention.attention.KvShard;
import org.ringattention.attention.ShardAttention;

/**
 * The ring protocol, in one place: one run of P {@link Device}s over P steps, with T worker threads
 * shared by all devices and one link thread per device.
 *
 * <p><b>Schedule.</b> At step s device i computes on the key/value shard of device (i − s) mod P,
 * which it holds in {@link Device#current}. At the start of the step its link copies that shard
 * into the next device's {@link Device#incoming} buffer, while the workers compute: sending step
 * s+1's input overlaps computing step s. A device starts step s+1 when (1) its tasks of step s are
 * done, (2) its own shard has been sent on, and (3) the previous device's shard has arrived; then it
 * swaps its buffers. A link may fill a buffer only once its device has moved past the step that
 * computed on it (the receiver has started step s), so a link holds at most one shard: bounded
 * capacity, with back-pressure.
 *
 * <p>In the backward pass a shard carries its running dK and dV: the link sends K and V at the step
 * start as in the forward pass, and dK and dV once the step's tasks are done; there are P sends
 * instead of P − 1, the last bringing every shard home with its complete gradients.
 *
 * <p><b>Workers.</b> A worker takes the next task of the device that is furthest behind (ties go
 * round the ring), runs it, and reports back. A device's tasks of a step start in increasing order;
 * each output row is summed in a fixed order (dQ in key order, see {@code QueryGradients}), so
 * results do not depend on which worker ran what.
 *
 * <p><b>Faults.</b> The first exception or interrupt of a task, or a link, stops the ring: no new
 * task starts, link threads are interrupted, every thread ends before {@link #run} returns, and run
 * throws a {@link RingFailure} naming the device and step. Every wait has a timeout; a ring in which
 * nothing happens for the stall timeout fails too, naming the device furthest behind.
 */
final class Ring {

    /**
     * What the devices compute: {@link #tasks} tasks at each step, each run by {@link #run}; a
     * device's tasks of a step are started in increasing order. {@link #stop} is called when the
     * ring fails, so that tasks waiting for each other give up.
     */
    interface Work {
        int tasks(Device device, int step);

        long run(ShardAttention.Workspace workspace, Device device, int step, int task);

        default void stop() {
        }
    }

    private static final long POLL_NANOS = TimeUnit.MILLISECONDS.toNanos(50);
    private static final long JOIN_MILLIS = 2000;

    private final Device[] devices;
    private final int steps;
    private final int sends;
    private final boolean gradients;
    private final LinkModel link;
    private final FaultInjector faults;
    private final Work work;
    private final ShardAttention.Workspace[] workspaces;
    private final long stallNanos;

    private final ReentrantLock lock = new ReentrantLock();
    private final Condition changed = lock.newCondition();
    private final List<StepRecord> records = new ArrayList<>();
    private final long[][] bytesSent;
    private final long[][] transferNanos;
    private RingFailure failure;
    private boolean started;
    private int devicesDone;
    private long lastProgress;
    private int nextDevice;

    /**
     * @param gradients true for the backward pass: shards carry dK and dV, sent after each step's
     *     tasks, and come home after a full turn
     */
    Ring(Device[] devices, boolean gradients, LinkModel link, FaultInjector faults, Work work,
            ShardAttention.Workspace[] workspaces, long stallNanos) {
        this.devices = devices;
        this.steps = devices.length;
        this.sends = devices.length == 1 ? 0 : gradients ? devices.length : devices.length - 1;
        this.gradients = gradients;
        this.link = link;
        this.faults = faults;
        this.work = work;
        this.workspaces = workspaces;
        this.stallNanos = stallNanos;
        this.bytesSent = new long[steps][steps];
        this.transferNanos = new long[steps][steps];
    }

    /** Runs every step on every device; returns a record per device and step, by device then step. */
    List<StepRecord> run() {
        List<Thread> threads = new ArrayList<>();
        List<Thread> links = new ArrayList<>();
        for (int w = 0; w < workspaces.length; w++) {
            ShardAttention.Workspace ws = workspaces[w];
            threads.add(Thread.ofPlatform().daemon().name("ring-worker-" + w).unstarted(() -> worker(ws)));
        }
        if (sends > 0) {
            for (Device d : devices) {
                links.add(Thread.ofPlatform().daemon().name("ring-link-" + d.id).unstarted(() -> link(d.id)));
            }
        }
        threads.addAll(links);
        threads.forEach(Thread::start);
        // Step 0 starts once every thread is up, so that its times do not include thread start-up.
        lock.lock();
        try {
            long now = System.nanoTime();
            lastProgress = now;
            for (Device d : devices) {
                enterStep(d, 0, now);
            }
            for (Device d : devices) {
                tryAdvance(d, now);
            }
            started = true;
            changed.signalAll();
        } finally {
            lock.unlock();
        }
        supervise();
        lock.lock();
        try {
            if (failure != null) {
                links.forEach(Thread::interrupt); // wake links out of simulated transfers
            }
        } finally {
            lock.unlock();
        }
        joinAll(threads);
        lock.lock();
        try {
            if (failure != null) {
                throw failure;
            }
            records.sort(Comparator.comparingInt(StepRecord::device).thenComparingInt(StepRecord::step));
            return List.copyOf(records);
        } finally {
            lock.unlock();
        }
    }

    /** Waits until every device is done or the ring failed; fails a ring that stalls. */
    private void supervise() {
        lock.lock();
        try {
            while (devicesDone < steps && failure == null) {
                changed.awaitNanos(POLL_NANOS);
                long now = System.nanoTime();
                if (failure == null && devicesDone < steps && now - lastProgress > stallNanos) {
                    Device slow = furthestBehind();
                    fail(new RingFailure(slow.id, slow.step, "stalled (nothing happened for "
                            + TimeUnit.NANOSECONDS.toSeconds(stallNanos) + " s)", null));
                }
            }
        } catch (InterruptedException e) {
            fail(new RingFailure("interrupted while waiting for the ring", e));
            Thread.currentThread().interrupt();
        } finally {
            lock.unlock();
        }
    }

    private void joinAll(List<Thread> threads) {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(JOIN_MILLIS);
        boolean interrupted = false;
        for (Thread t : threads) {
            while (t.isAlive()) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    break;
                }
                try {
                    t.join(Math.max(1, TimeUnit.NANOSECONDS.toMillis(left)));
                } catch (InterruptedException e) {
                    interrupted = true;
                }
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
        for (Thread t : threads) {
            if (t.isAlive()) {
                lock.lock();
                try {
                    if (failure == null) {
                        failure = new RingFailure(t.getName() + " did not stop within " + JOIN_MILLIS + " ms", null);
                    }
                } finally {
                    lock.unlock();
                }
            }
        }
    }

    // ---------------------------------------------------------------- workers

    private void worker(ShardAttention.Workspace ws) {
        Device d = null;
        int step = -1;
        while (true) {
            int task;
            lock.lock();
            try {
                while (true) {
                    if (failure != null || devicesDone == steps) {
                        return;
                    }
                    Device next = claim();
                    if (next != null) {
                        d = next;
                        step = d.step;
                        task = d.claimed++;
                        break;
                    }
                    changed.awaitNanos(POLL_NANOS);
                }
            } catch (InterruptedException e) {
                fail(d == null ? new RingFailure("worker interrupted before its first task", e)
                        : new RingFailure(d.id, step, "was interrupted", e));
                return;
            } finally {
                lock.unlock();
            }
            long pairs;
            try {
                faults.beforeTask(d.id, step);
                pairs = work.run(ws, d, step, task);
                if (Thread.interrupted()) {
                    throw new InterruptedException("its worker thread was interrupted");
                }
            } catch (InterruptedException e) {
                fail(new RingFailure(d.id, step, "was interrupted", e));
                return;
            } catch (Throwable t) {
                fail(new RingFailure(d.id, step, "failed", t));
                return;
            }
            lock.lock();
            try {
                long now = System.nanoTime();
                lastProgress = now;
                d.pairs += pairs;
                if (++d.finished == d.tasks) {
                    d.computed = true;
                    d.computeEnd = now;
                    tryAdvance(d, now);
                    changed.signalAll();
                }
            } finally {
                lock.unlock();
            }
        }
    }

    /** The device furthest behind that has a task left to start (ties go round the ring), or null. */
    private Device claim() {
        Device best = null;
        for (int k = 0; k < steps; k++) {
            Device d = devices[(nextDevice + k) % steps];
            if (!d.done && d.claimed < d.tasks && (best == null || d.step < best.step)) {
                best = d;
            }
        }
        if (best != null) {
            nextDevice = (best.id + 1) % steps;
        }
        return best;
    }

    // ---------------------------------------------------------------- links

    /** The link from device i to device i + 1: sends the shard device i holds, once per step. */
    private void link(int i) {
        Device from = devices[i];
        Device to = devices[(i + 1) % steps];
        int s = 0;
        try {
            for (; s < sends; s++) {
                KvShard src;
                KvShard dst;
                long start;
                lock.lock();
                try {
                    // the sender holds the shard of step s; the receiver has left the step that used its buffer
                    while (!(started && from.step == s && to.step >= s)) {
                        if (failure != null) {
                            return;
                        }
                        changed.awaitNanos(POLL_NANOS);
                    }
                    src = from.current;
                    dst = to.incoming;
                    // The hop begins when both ends are ready, as a DMA engine would begin it; this
                    // thread may get a core later than that (the workers keep the cores busy).
                    start = Math.max(from.stepStart, to.stepStart);
                } finally {
                    lock.unlock();
                }
                dst.copyKeysValuesFrom(src);
                long bytes = src.keyValueBytes();
                sleepUntil(start + link.nanosFor(bytes));
                long kvEnd = System.nanoTime();
                long active = kvEnd - start;
                if (gradients) {
                    long computeEnd;
                    lock.lock();
                    try {
                        while (!from.computed) { // dK and dV are complete once the step's tasks are
                            if (failure != null) {
                                return;
                            }
                            changed.awaitNanos(POLL_NANOS);
                        }
                        computeEnd = from.computeEnd;
                    } finally {
                        lock.unlock();
                    }
                    long g = Math.max(kvEnd, computeEnd); // after K and V, and after the step's tasks
                    dst.copyGradientsFrom(src);
                    bytes += src.gradientBytes();
                    sleepUntil(g + link.bandwidthNanos(src.gradientBytes()));
                    active += System.nanoTime() - g;
                }
                lock.lock();
                try {
                    long now = System.nanoTime();
                    lastProgress = now;
                    bytesSent[i][s] = bytes;
                    transferNanos[i][s] = active;
                    from.sent[s] = true;
                    to.received[s + 1] = true;
                    tryAdvance(from, now);
                    tryAdvance(to, now);
                    changed.signalAll();
                } finally {
                    lock.unlock();
                }
            }
        } catch (InterruptedException e) {
            fail(new RingFailure(i, s, "link was interrupted", e));
        } catch (Throwable t) {
            fail(new RingFailure(i, s, "link failed", t));
        }
    }

    private static void sleepUntil(long deadline) throws InterruptedException {
        for (long left = deadline - System.nanoTime(); left > 0; left = deadline - System.nanoTime()) {
            TimeUnit.NANOSECONDS.sleep(left);
        }
    }

    // ---------------------------------------------------------------- steps (under the lock)

    private void enterStep(Device d, int step, long now) {
        d.step = step;
        d.tasks = work.tasks(d, step);
        d.claimed = 0;
        d.finished = 0;
        d.pairs = 0;
        d.stepStart = now;
        d.computed = d.tasks == 0;
        d.computeEnd = now;
    }

    /** Moves device d to its next step (or finishes it) when its step is computed, sent and received. */
    private void tryAdvance(Device d, long now) {
        while (!d.done && d.computed) {
            int s = d.step;
            if (s < sends && !(d.sent[s] && d.received[s + 1])) {
                return;
            }
            records.add(new StepRecord(d.id, s, d.computeEnd - d.stepStart, now - d.computeEnd, bytesSent[d.id][s],
                    transferNanos[d.id][s], d.pairs));
            if (s < sends) {
                d.swapBuffers();
            }
            if (s + 1 < steps) {
                enterStep(d, s + 1, now);
            } else {
                d.done = true;
                devicesDone++;
            }
            lastProgress = now;
            changed.signalAll();
        }
    }

    private void fail(RingFailure f) {
        lock.lock();
        try {
            if (failure == null) {
                failure = f;
                work.stop();
            }
            changed.signalAll();
        } finally {
            lock.unlock();
        }
    }

    private Device furthestBehind() {
        Device slow = null;
        for (Device d : devices) {
            if (!d.done && (slow == null || d.step < slow.step)) {
                slow = d;
            }
        }
        return slow;
    }
}
