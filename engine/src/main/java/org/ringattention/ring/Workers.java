package org.ringattention.ring;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;
import org.ringattention.attention.ShardAttention;

/**
 * The worker threads shared by the devices of one process, and how they pick tasks: a worker takes
 * the next task of the device that is furthest behind (ties go round the ring), runs it, and
 * reports back; the last task of a step marks the device {@link Device#computed} and unparks its
 * protocol thread. A device's tasks of a step are claimed in increasing order; each output row is
 * summed in a fixed order (dQ in key order, see {@code QueryGradients}), so results do not depend
 * on which worker ran what.
 *
 * <p>Concurrency: {@link #publish} (by a device's protocol thread), {@link #deviceDone} and the
 * workers' loops meet under one lock; a failed ring ({@link Supervision}) wakes them with
 * {@link #wake}. A task that throws or is interrupted fails the ring, naming its device and step.
 */
final class Workers {

    private static final long POLL_NANOS = TimeUnit.MILLISECONDS.toNanos(50);

    private final Device[] devices;
    private final Ring.Work work;
    private final FaultInjector faults;
    private final Supervision supervision;
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition changed = lock.newCondition();
    private int nextDevice;
    private int devicesDone;

    Workers(Device[] devices, Ring.Work work, FaultInjector faults, Supervision supervision) {
        this.devices = devices;
        this.work = work;
        this.faults = faults;
        this.supervision = supervision;
    }

    /** Device d enters {@code step}, which has {@code tasks} tasks. */
    void publish(Device d, int step, int tasks) {
        lock.lock();
        try {
            d.step = step;
            d.tasks = tasks;
            d.claimed = 0;
            d.finished = 0;
            d.pairs = 0;
            d.computeEnd = System.nanoTime();
            d.computed = tasks == 0;
            changed.signalAll();
        } finally {
            lock.unlock();
        }
    }

    /** Device d has no more steps (or stopped). */
    void deviceDone(Device d) {
        lock.lock();
        try {
            if (!d.done) {
                d.done = true;
                devicesDone++;
            }
            changed.signalAll();
        } finally {
            lock.unlock();
        }
    }

    /** Query-key pairs device d computed in its current step (read after {@link Device#computed}). */
    long pairs(Device d) {
        lock.lock();
        try {
            return d.pairs;
        } finally {
            lock.unlock();
        }
    }

    void wake() {
        lock.lock();
        try {
            changed.signalAll();
        } finally {
            lock.unlock();
        }
    }

    /** A worker's loop, until every device is done or the ring failed. */
    void run(ShardAttention.Workspace ws) {
        Device d = null;
        int step = -1;
        while (true) {
            int task;
            lock.lock();
            try {
                while (true) {
                    if (supervision.failed() || devicesDone == devices.length) {
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
                supervision.fail(d == null ? new RingFailure("worker interrupted before its first task", e)
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
                supervision.fail(new RingFailure(d.id, step, "was interrupted", e));
                return;
            } catch (Throwable t) {
                supervision.fail(new RingFailure(d.id, step, "failed", t));
                return;
            }
            supervision.progress();
            lock.lock();
            try {
                d.pairs += pairs;
                if (++d.finished == d.tasks) {
                    d.computeEnd = System.nanoTime();
                    d.computed = true;
                    LockSupport.unpark(d.thread);
                }
            } finally {
                lock.unlock();
            }
        }
    }

    /** The device furthest behind that has a task left to start (ties go round the ring), or null. */
    private Device claim() {
        Device best = null;
        int n = devices.length;
        for (int k = 0; k < n; k++) {
            Device d = devices[(nextDevice + k) % n];
            if (!d.done && d.claimed < d.tasks && (best == null || d.step < best.step)) {
                best = d;
            }
        }
        if (best != null) {
            nextDevice = (indexOf(best) + 1) % n;
        }
        return best;
    }

    private int indexOf(Device d) {
        for (int i = 0; i < devices.length; i++) {
            if (devices[i] == d) {
                return i;
            }
        }
        throw new IllegalStateException("not a device of these workers: " + d.id);
    }
}
