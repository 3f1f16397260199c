package org.ringattention.ring;

import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.function.IntFunction;
import java.util.function.LongSupplier;
import org.ringattention.attention.Positions;
import org.ringattention.attention.ShardAttention;
import org.ringattention.tasks.TaskScheduler;
import org.ringattention.tasks.Tasks;

/**
 * One pass of a ring over the devices of this process: starts a {@link DeviceProtocol} thread per
 * local device (named {@code ring-device-i}), worker threads ({@code ring-worker-w}) that run the
 * devices' tasks on a {@link TaskScheduler} (device x of this process in slot x, each step's tasks
 * at rank s, so a worker takes the next task of the device furthest behind) and
 * {@link Supervision}, waits for the end, and returns what the devices measured. With every device
 * local and in-process links this is the whole ring; under MPI a process holds one device and its
 * links lead to other processes.
 *
 * <p><b>Faults.</b> The first exception or interrupt of a task, a link or a device stops the pass:
 * no new task starts, links are aborted, every thread ends before {@link #run} returns, and run
 * throws a {@link RingFailure} naming the device and step. A pass in which nothing happens for the
 * stall timeout fails too, naming the device furthest behind and what it waits for.
 */
final class Ring {

    /**
     * What the devices compute: the {@link #tasks} of a device at each step (started in increasing
     * order, each returning the query-key pairs it computed). {@link #stop} is called when the ring
     * fails, so that tasks waiting for each other give up.
     */
    interface Work {
        Tasks<ShardAttention.Workspace> tasks(Device device, int step);

        default void stop() {
        }
    }

    /** How long a run's threads may take to stop once it ended, counted while the joiner was awake. */
    static final long JOIN_MILLIS = 2000;
    private static final long JOIN_POLL_MILLIS = 50;

    private final Device[] devices;
    private final int ringSize;
    private final boolean gradients;
    private final Links links;
    private final int pass;
    private final FaultInjector faults;
    private final Work work;
    private final ShardAttention.Workspace[] workspaces;
    private final long stallNanos;
    private final IntFunction<Positions> keyPositions;

    /**
     * @param devices the devices of this process (all P for an in-process ring)
     * @param ringSize P
     * @param gradients true for the backward pass: shards carry dK and dV and come home
     * @param pass which pass of the run this is, for {@link Links#link}
     */
    Ring(Device[] devices, int ringSize, boolean gradients, Links links, int pass, FaultInjector faults, Work work,
            ShardAttention.Workspace[] workspaces, long stallNanos, IntFunction<Positions> keyPositions) {
        this.devices = devices;
        this.ringSize = ringSize;
        this.gradients = gradients;
        this.links = links;
        this.pass = pass;
        this.faults = faults;
        this.work = work;
        this.workspaces = workspaces;
        this.stallNanos = stallNanos;
        this.keyPositions = keyPositions;
    }

    /** Runs every step on every local device; returns a record per device and step, by device then step. */
    List<StepRecord> run() {
        return run(new Supervision(stallNanos));
    }

    /** As {@link #run()}, supervised by {@code supervision} (tests give a scripted clock or count progress). */
    List<StepRecord> run(Supervision supervision) {
        StepLog log = new StepLog();
        CountDownLatch start = new CountDownLatch(1);
        boolean sends = DeviceProtocol.sendsPerPass(ringSize, gradients) > 0;
        Set<Link> opened = Collections.newSetFromMap(new IdentityHashMap<>());
        List<Thread> threads = new ArrayList<>();
        try {
            Link[] ins = new Link[devices.length];
            Link[] outs = new Link[devices.length];
            for (int x = 0; sends && x < devices.length; x++) {
                ins[x] = links.link(Math.floorMod(devices[x].id - 1, ringSize), pass);
                opened.add(ins[x]);
                outs[x] = links.link(devices[x].id, pass);
                opened.add(outs[x]);
            }
            TaskScheduler<ShardAttention.Workspace> scheduler = new TaskScheduler<>(workspaces, devices.length,
                    new TaskSupervisor(faults, supervision, opened.toArray(Link[]::new)));
            for (int x = 0; x < devices.length; x++) {
                DeviceProtocol protocol = new DeviceProtocol(devices[x], x, ringSize, gradients, ins[x], outs[x],
                        work, scheduler, supervision, log, keyPositions, start);
                threads.add(Thread.ofPlatform().daemon().name("ring-device-" + devices[x].id).unstarted(protocol));
            }
            for (int w = 0; w < workspaces.length; w++) {
                int worker = w;
                threads.add(Thread.ofPlatform().daemon().name("ring-worker-" + w)
                        .unstarted(() -> scheduler.runWorker(worker)));
            }
            supervision.onFailure(work::stop);
            supervision.onFailure(scheduler::stop);
            supervision.onFailure(() -> opened.forEach(Link::abort));
            supervision.onFailure(() -> {
                for (Device d : devices) {
                    LockSupport.unpark(d.thread);
                }
            });
            supervision.expect(devices.length);
            threads.forEach(Thread::start);
            // Step 0 starts once every thread is up, so that its times do not include thread start-up.
            supervision.progress();
            start.countDown();
            supervision.awaitEnd(devices);
            scheduler.stop(); // every device has ended: the workers have nothing left to do
            joinAll(threads, supervision, System::nanoTime);
        } finally {
            for (Link l : opened) {
                l.close();
            }
        }
        if (supervision.failed()) {
            throw supervision.failure();
        }
        return log.sorted();
    }

    /**
     * The ring's view of its tasks: the fault hook before each; after each, progress and a chance
     * for every link of the pass to move data ({@link Link#assist}); a failure named by device and
     * step.
     */
    private record TaskSupervisor(FaultInjector faults, Supervision supervision, Link[] links)
            implements TaskScheduler.Supervisor {

        @Override
        public void beforeTask(TaskScheduler.Batch batch, int task) throws Exception {
            faults.beforeTask(batch.tag(), batch.rank());
        }

        @Override
        public void taskEnded(TaskScheduler.Batch batch) {
            supervision.progress();
            for (Link l : links) {
                l.assist();
            }
        }

        @Override
        public void failed(TaskScheduler.Batch batch, Throwable failure) {
            supervision.fail(batch == null ? new RingFailure("worker interrupted before its first task", failure)
                    : new RingFailure(batch.tag(), batch.rank(),
                            failure instanceof InterruptedException ? "was interrupted" : "failed", failure));
        }
    }

    /**
     * Waits for {@code threads} to end, failing the run for each still alive after {@link #JOIN_MILLIS}
     * of awake time ({@link AwakeTime}): a JVM stopped while it joins does not make a thread late.
     */
    static void joinAll(List<Thread> threads, Supervision supervision, LongSupplier clock) {
        AwakeTime waited = new AwakeTime(clock, TimeUnit.MILLISECONDS.toNanos(JOIN_POLL_MILLIS));
        long limit = TimeUnit.MILLISECONDS.toNanos(JOIN_MILLIS);
        boolean interrupted = false;
        for (Thread t : threads) {
            while (t.isAlive() && waited.read() < limit) {
                try {
                    t.join(JOIN_POLL_MILLIS);
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
                supervision.fail(new RingFailure(t.getName() + " did not stop within " + JOIN_MILLIS + " ms", null));
            }
        }
    }
}
