package org.ringattention.ring;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;
import java.util.function.IntFunction;
import org.ringattention.attention.Positions;
import org.ringattention.attention.ShardAttention;
import org.ringattention.tasks.TaskScheduler;

/**
 * The ring protocol, in one place: what one device does in one pass, on its own thread, knowing of
 * the other devices only through its two {@link Link}s (from device i − 1, to device i + 1).
 *
 * <p><b>Schedule.</b> At step s (0 ≤ s < P) device i computes on the key/value shard of device
 * (i − s) mod P, held in {@link Device#current}; meanwhile its outgoing link carries that shard to
 * device i + 1 and its incoming link fills {@link Device#incoming} with the shard of device
 * (i − s − 1) mod P. Sending step s+1's input overlaps computing step s. Step s of device i:
 * <pre>
 *   if s &lt; sends and the credit from device i+1 (a free buffer there) is in: send K, V of current
 *   publish the step's tasks to the scheduler
 *   if s &lt; sends and not sent yet: wait for the credit; send K, V of current
 *   wait until the step's tasks are done
 *   backward, if s &lt; sends: send dK, dV of current (complete now)
 *   if s &lt; sends: wait until the send is done (current may change) and the shard from device
 *                 i−1 has arrived; swap current and incoming;
 *                 if s+1 &lt; sends: grant incoming (now free) to device i−1: its credit for step s+1
 * </pre>
 * Before step 0 each device grants its empty incoming buffer. A link so holds at most one shard
 * (two buffers per device, bounded capacity), and a buffer is refilled only after the step that
 * computed on it has ended. The forward pass makes P − 1 sends; in the backward pass a shard
 * carries its running dK and dV and there are P sends, the last bringing every shard home with its
 * complete gradients.
 *
 * <p>Waits poll with an {@link IdleStrategy} (links and workers unpark this thread when they can)
 * and end with {@link Supervision.Stopped} once the ring failed. Supervision (faults, stall
 * timeout) and metrics ({@link StepLog}) sit beside this class; the Promela model in
 * {@code protocol/ring.pml} mirrors it (see protocol/README.md).
 */
final class DeviceProtocol implements Runnable {

    private final Device device;
    private final int steps;
    private final int sends;
    private final boolean gradients;
    private final Link in;
    private final Link out;
    private final int slot;
    private final Ring.Work work;
    private final TaskScheduler<ShardAttention.Workspace> scheduler;
    private final Supervision supervision;
    private final StepLog log;
    private final IntFunction<Positions> keyPositions;
    private final CountDownLatch start;
    private final IdleStrategy idle = IdleStrategy.backoff();

    /** How long a device waiting for its tasks with nothing in flight parks between looks. */
    private static final long QUIET_PARK_NANOS = TimeUnit.MILLISECONDS.toNanos(20);

    /**
     * @param slot the device's slot in {@code scheduler}
     * @param steps P, the number of devices
     * @param gradients true for the backward pass: P sends, each followed by dK and dV
     * @param keyPositions the key positions of each device's shard, by owner
     */
    DeviceProtocol(Device device, int slot, int steps, boolean gradients, Link in, Link out, Ring.Work work,
            TaskScheduler<ShardAttention.Workspace> scheduler, Supervision supervision, StepLog log,
            IntFunction<Positions> keyPositions, CountDownLatch start) {
        this.device = device;
        this.slot = slot;
        this.steps = steps;
        this.sends = sendsPerPass(steps, gradients);
        this.gradients = gradients;
        this.in = in;
        this.out = out;
        this.work = work;
        this.scheduler = scheduler;
        this.supervision = supervision;
        this.log = log;
        this.keyPositions = keyPositions;
        this.start = start;
    }

    /** Sends per device in a pass of a ring of P devices: P − 1 forward, P backward, none for P = 1. */
    static int sendsPerPass(int devices, boolean gradients) {
        return devices == 1 ? 0 : gradients ? devices : devices - 1;
    }

    @Override
    public void run() {
        Device d = device;
        d.thread = Thread.currentThread();
        int s = 0;
        try {
            start.await();
            long now = System.nanoTime();
            if (sends > 0) {
                grant(0);
            }
            for (; s < steps; s++) {
                d.stepStart = now;
                d.step = s;
                // A credit already in is used before the tasks take the cores: started after them, the
                // send waited until this thread was scheduled again, under MPI up to tens of milliseconds
                // with one worker per core (docs/mpi.md).
                boolean sent = s < sends && out.hasCredit();
                if (sent) {
                    out.sendKeysValues(d.current);
                }
                d.tasks = scheduler.publish(slot, s, d.id, work.tasks(d, s), d.thread);
                supervision.progress();
                if (s < sends && !sent) {
                    await(out::hasCredit, "a free buffer at " + out.peer(false));
                    out.sendKeysValues(d.current);
                }
                awaitTasks();
                if (gradients && s < sends) {
                    out.sendGradients(d.current);
                }
                if (s < sends) {
                    await(out::sent, "its send to " + out.peer(false));
                    await(in::arrived, "the shard from " + in.peer(true));
                }
                now = System.nanoTime();
                long computeEnd = d.tasks.endNanos();
                log.add(new StepRecord(d.id, s, computeEnd - d.stepStart, now - computeEnd,
                        s < sends ? out.bytesSent() : 0, s < sends ? out.transferNanos() : 0, d.tasks.sum()));
                if (s < sends) {
                    d.swapBuffers();
                    if (s + 1 < sends) {
                        grant(s + 1);
                    }
                }
                supervision.progress();
            }
        } catch (Supervision.Stopped e) {
            // another thread failed the ring; it says why
        } catch (InterruptedException e) {
            supervision.fail(new RingFailure(d.id, s, "was interrupted", e));
        } catch (Throwable t) {
            supervision.fail(new RingFailure(d.id, s, "link failed", t));
        } finally {
            d.done = true;
            supervision.deviceEnded();
        }
    }

    /** Grants the incoming buffer for the shard that arrives during step {@code s}. */
    private void grant(int s) {
        int owner = Math.floorMod(device.id - s - 1, steps);
        in.grant(device.incoming, owner, keyPositions.apply(owner));
    }

    /**
     * Waits for the step's tasks: polls the links while a transfer needs {@link Link#progress}
     * calls, else parks until the last task's worker unparks this thread (every
     * {@link #QUIET_PARK_NANOS} it looks anyway, for supervision), so that a device whose shards
     * have moved does not take its workers' core thousands of times a second. A batch stopped by
     * a failure never completes: the supervision check ends the wait.
     */
    private void awaitTasks() {
        Device d = device;
        if (d.tasks.completed()) {
            return;
        }
        d.waitingFor = "its tasks";
        idle.reset();
        while (!d.tasks.completed()) {
            supervision.check();
            if (sends > 0 && (in.transferring() || out.transferring())) {
                in.progress();
                out.progress();
                idle.idle();
            } else {
                LockSupport.parkNanos(this, QUIET_PARK_NANOS);
            }
        }
        d.waitingFor = "nothing";
    }

    private void await(BooleanSupplier ready, String what) {
        if (ready.getAsBoolean()) {
            return;
        }
        device.waitingFor = what;
        idle.reset();
        while (!ready.getAsBoolean()) {
            supervision.check();
            if (sends > 0) {
                in.progress();
                out.progress();
            }
            idle.idle();
        }
        device.waitingFor = "nothing";
    }
}
