package org.ringattention.tasks;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReferenceArray;
import java.util.concurrent.locks.LockSupport;

/**
 * The one scheduler of the engine's tasks: T workers, worker w with workspace w, run the
 * {@link Tasks} that producers publish, blockwise attention's stages and a ring's steps alike.
 *
 * <p><b>Layout.</b> One {@link Batch} per producer slot (the blockwise caller is slot 0; ring
 * device x of this process is slot x): the task set it published last, with a claim counter, an
 * end counter and the sum of the tasks' results. A worker takes the next task of the claimable
 * batch of lowest rank (a ring's step, so the device furthest behind goes first; ties go round
 * the slots), runs it, and counts it ended; the task that ends a batch wakes the producer. Claims
 * are a compare-and-set on the batch's counter, so a batch's tasks start in increasing order
 * ({@link Tasks}) and nothing is locked or allocated per task.
 *
 * <p><b>Threads.</b> The scheduler owns none; its users bring them. {@link #runAll} (blockwise
 * attention) runs one task set on the calling thread and on T − 1 helpers borrowed from a
 * process-wide pool of daemon threads, reused from call to call, and returns when every task it
 * started has ended. A ring starts T threads of its own for a pass, each calling
 * {@link #runWorker} until {@link #stop}, so that every thread of a pass has ended when it
 * returns; producers {@link #publish} and wait for {@link Batch#completed}.
 *
 * <p><b>Failures.</b> A task that throws, or whose worker is interrupted, stops its batch (no
 * further task of it starts) and is reported once to the {@link Supervisor} (the ring's names the
 * device and step); {@link #runAll} rethrows the first failure once every started task has ended.
 * Idle workers park until a batch is published or the scheduler stops, and look again every
 * {@link #IDLE_PARK_NANOS} anyway.
 *
 * <p>Thread-safe: any thread may call any method; {@link #runWorker}(w) runs on one thread per w.
 */
public final class TaskScheduler<W> {

    /** How a user hears of tasks: before each one starts, after each one ends, and of failures. */
    public interface Supervisor {

        Supervisor NONE = new Supervisor() {
        };

        /** Called on the worker before task {@code task} of {@code batch}; may throw to fail it. */
        default void beforeTask(Batch batch, int task) throws Exception {
        }

        /** Called on the worker after a task of {@code batch} ended normally. */
        default void taskEnded(Batch batch) {
        }

        /**
         * A task of {@code batch} failed with {@code failure} (an {@link InterruptedException} when
         * its worker was interrupted); {@code batch} is null when an idle worker was interrupted.
         * Called on the worker, before the batch counts the task as ended.
         */
        default void failed(Batch batch, Throwable failure) {
        }
    }

    /** How long an idle {@link #runWorker} parks between looks when nobody wakes it. */
    static final long IDLE_PARK_NANOS = TimeUnit.MILLISECONDS.toNanos(50);

    private static final ConcurrentHashMap<Integer, ExecutorService> HELPERS = new ConcurrentHashMap<>();

    private final W[] workspaces;
    private final Supervisor supervisor;
    private final AtomicReferenceArray<Batch> slots;
    private final AtomicReferenceArray<Thread> workers;
    private volatile boolean stopped;
    private volatile int nextSlot;

    /** T = {@code workspaces.length} workers, {@code slots} producers. */
    public TaskScheduler(W[] workspaces, int slots, Supervisor supervisor) {
        if (workspaces.length < 1 || slots < 1) {
            throw new IllegalArgumentException("a scheduler needs >= 1 workspace and >= 1 slot, got "
                    + workspaces.length + " and " + slots);
        }
        this.workspaces = workspaces;
        this.supervisor = supervisor;
        this.slots = new AtomicReferenceArray<>(slots);
        this.workers = new AtomicReferenceArray<>(workspaces.length);
    }

    /** One slot, no supervisor: for {@link #runAll}. */
    public TaskScheduler(W[] workspaces) {
        this(workspaces, 1, Supervisor.NONE);
    }

    /** Runs {@code tasks} once on T workers, each with its workspace (see {@link #runAll(Tasks)}). */
    public static <W> long runAll(W[] workspaces, Tasks<W> tasks) {
        return new TaskScheduler<>(workspaces).runAll(tasks);
    }

    /** The number of workers T. */
    public int workers() {
        return workspaces.length;
    }

    /**
     * Runs every task of {@code tasks} in slot 0, on this thread and min(T, tasks) − 1 pooled helpers,
     * and returns the sum of their results once every task has ended. With one worker the tasks run
     * here in order. The first failure is rethrown (a checked one wrapped in an
     * {@link IllegalStateException}) once every task that started has ended; the others do not start.
     * One call at a time per scheduler.
     */
    public long runAll(Tasks<W> tasks) {
        int count = tasks.count();
        int threads = Math.min(workspaces.length, count);
        if (threads <= 1) {
            return runHere(tasks, workspaces[0]);
        }
        Batch b = publish(0, 0, 0, tasks, Thread.currentThread());
        ExecutorService pool = HELPERS.computeIfAbsent(workspaces.length - 1, TaskScheduler::newPool);
        for (int w = 1; w < threads; w++) {
            W ws = workspaces[w];
            pool.execute(() -> drain(b, ws));
        }
        drain(b, workspaces[0]);
        while (!b.finished()) {
            LockSupport.park(this);
            if (Thread.interrupted()) {
                b.stop(); // the helpers stop after their current task
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while waiting for attention workers");
            }
        }
        Throwable t = b.failure;
        if (t instanceof InterruptedException) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while waiting for attention workers", t);
        }
        if (t != null) {
            throw unchecked(t);
        }
        return b.sum;
    }

    /**
     * Runs every task of {@code tasks} on this thread, in order, with {@code workspace} (null for
     * tasks that use none); returns the sum of their results. A checked failure is wrapped in an
     * {@link IllegalStateException}.
     */
    public static <W> long runHere(Tasks<W> tasks, W ws) {
        long sum = 0;
        for (int t = 0, n = tasks.count(); t < n; t++) {
            try {
                sum += tasks.run(ws, t);
            } catch (Exception e) {
                throw unchecked(e);
            }
        }
        return sum;
    }

    /** Runs tasks of {@code b} until none is left to claim or the batch stopped. */
    private void drain(Batch b, W ws) {
        for (int t = b.claim(); t >= 0; t = b.claim()) {
            if (!runTask(b, ws, t)) {
                return;
            }
        }
    }

    /**
     * Makes {@code tasks} the batch of {@code slot} at {@code rank} (lower ranks run first), named
     * {@code tag} for the supervisor, and wakes the workers; {@code producer} is unparked when the
     * last task ends. The slot's previous batch must have finished.
     */
    public Batch publish(int slot, int rank, int tag, Tasks<W> tasks, Thread producer) {
        Batch b = new Batch(tasks, rank, tag, producer);
        slots.set(slot, b);
        for (int w = 0; w < workers.length(); w++) {
            Thread t = workers.get(w);
            if (t != null) {
                LockSupport.unpark(t);
            }
        }
        return b;
    }

    /**
     * Worker {@code w}'s loop on the calling thread, until {@link #stop} or a failure of one of its
     * tasks (then it reports to the supervisor and returns).
     */
    public void runWorker(int w) {
        W ws = workspaces[w];
        workers.set(w, Thread.currentThread());
        try {
            while (!stopped) {
                Batch b = pick();
                if (b == null) {
                    LockSupport.parkNanos(this, IDLE_PARK_NANOS);
                    if (Thread.interrupted()) {
                        supervisor.failed(null, new InterruptedException("an idle worker was interrupted"));
                        return;
                    }
                    continue;
                }
                int t = b.claim();
                if (t >= 0 && !runTask(b, ws, t)) {
                    return;
                }
            }
        } finally {
            workers.set(w, null);
        }
    }

    /** No new task starts; idle workers wake and {@link #runWorker} returns. */
    public void stop() {
        stopped = true;
        for (int x = 0; x < slots.length(); x++) {
            Batch b = slots.get(x);
            if (b != null) {
                b.stop();
            }
        }
        for (int w = 0; w < workers.length(); w++) {
            Thread t = workers.get(w);
            if (t != null) {
                LockSupport.unpark(t);
            }
        }
    }

    /** Runs task {@code t} of {@code b}; false when it failed. */
    @SuppressWarnings("unchecked")
    private boolean runTask(Batch b, W ws, int t) {
        long result;
        try {
            supervisor.beforeTask(b, t);
            result = ((Tasks<W>) b.tasks).run(ws, t);
            if (Thread.interrupted()) {
                throw new InterruptedException("its worker thread was interrupted");
            }
        } catch (Throwable e) {
            b.fail(e);
            supervisor.failed(b, e);
            b.end(0);
            return false;
        }
        b.end(result);
        supervisor.taskEnded(b);
        return true;
    }

    /** The claimable batch of lowest rank, ties going round the slots from the one after the last pick; or null. */
    private Batch pick() {
        int n = slots.length();
        int from = nextSlot;
        Batch best = null;
        int bestSlot = -1;
        for (int k = 0; k < n; k++) {
            int x = (from + k) % n;
            Batch b = slots.get(x);
            if (b != null && b.claimable() && (best == null || b.rank < best.rank)) {
                best = b;
                bestSlot = x;
            }
        }
        if (best != null) {
            nextSlot = (bestSlot + 1) % n; // a hint for fairness; a lost update changes no result
        }
        return best;
    }

    private static RuntimeException unchecked(Throwable t) {
        if (t instanceof RuntimeException re) {
            throw re;
        }
        if (t instanceof Error err) {
            throw err;
        }
        return new IllegalStateException(t);
    }

    private static ExecutorService newPool(int threads) {
        AtomicInteger count = new AtomicInteger();
        return Executors.newFixedThreadPool(threads, r -> {
            Thread t = new Thread(r, "attention-worker-" + threads + "-" + count.incrementAndGet());
            t.setDaemon(true);
            return t;
        });
    }

    /**
     * One published task set and how far it got. {@code next} holds the number of tasks claimed,
     * with {@link #STOPPED} set once no more may start; {@code ended} the tasks that returned or
     * threw. The batch finishes when every task ended, or, once stopped, every claimed one: the
     * thread that sees this first records the time and wakes the producer.
     */
    public static final class Batch {

        private static final int STOPPED = 1 << 30;
        private static final VarHandle NEXT;
        private static final VarHandle ENDED;
        private static final VarHandle SUM;
        private static final VarHandle FINISHING;
        private static final VarHandle FAILURE;

        static {
            try {
                MethodHandles.Lookup l = MethodHandles.lookup();
                NEXT = l.findVarHandle(Batch.class, "next", int.class);
                ENDED = l.findVarHandle(Batch.class, "ended", int.class);
                SUM = l.findVarHandle(Batch.class, "sum", long.class);
                FINISHING = l.findVarHandle(Batch.class, "finishing", boolean.class);
                FAILURE = l.findVarHandle(Batch.class, "failure", Throwable.class);
            } catch (ReflectiveOperationException e) {
                throw new ExceptionInInitializerError(e);
            }
        }

        final Tasks<?> tasks;
        final int count;
        final int rank;
        final int tag;
        private final Thread producer;
        private final long startNanos;
        private volatile int next;
        private volatile int ended;
        private volatile long sum;
        private volatile boolean finishing;
        private volatile boolean finished;
        private long endNanos; // written before finished
        private volatile Throwable failure;

        Batch(Tasks<?> tasks, int rank, int tag, Thread producer) {
            this.tasks = tasks;
            this.count = tasks.count();
            if (count < 0 || count >= STOPPED) {
                throw new IllegalArgumentException("task count must be in [0, 2^30), got " + count);
            }
            this.rank = rank;
            this.tag = tag;
            this.producer = producer;
            this.startNanos = System.nanoTime();
            if (count == 0) {
                endNanos = startNanos;
                finished = true;
            }
        }

        /** The rank it was published at (a ring's step). */
        public int rank() {
            return rank;
        }

        /** The producer's name for it (a ring's device). */
        public int tag() {
            return tag;
        }

        /** Every task ended normally (a later {@link TaskScheduler#stop} does not change that). */
        public boolean completed() {
            return finished && failure == null && ended == count;
        }

        /** Every task that started has ended (all of them, unless the batch stopped). */
        public boolean finished() {
            return finished;
        }

        /** When the last task ended (the time of publishing, for a batch without tasks); valid once {@link #finished}. */
        public long endNanos() {
            return endNanos;
        }

        /** The sum of the results of the tasks that ended; complete once {@link #completed}. */
        public long sum() {
            return sum;
        }

        boolean claimable() {
            return next < count;
        }

        /** The next task to start, or −1 when none is left or the batch stopped. */
        int claim() {
            while (true) {
                int n = next;
                if (n >= count) { // STOPPED exceeds every count
                    return -1;
                }
                if (NEXT.compareAndSet(this, n, n + 1)) {
                    return n;
                }
            }
        }

        void fail(Throwable t) {
            FAILURE.compareAndSet(this, null, t);
            stop();
        }

        void stop() {
            while (true) {
                int n = next;
                if ((n & STOPPED) != 0) {
                    return;
                }
                if (NEXT.compareAndSet(this, n, n | STOPPED)) {
                    break;
                }
            }
            finishIfDone();
        }

        void end(long result) {
            if (result != 0) {
                SUM.getAndAdd(this, result);
            }
            ENDED.getAndAdd(this, 1);
            finishIfDone();
        }

        private void finishIfDone() {
            int n = next;
            int e = ended;
            boolean done = (n & STOPPED) == 0 ? e == count : e == (n & ~STOPPED);
            if (done && !finished && FINISHING.compareAndSet(this, false, true)) {
                endNanos = System.nanoTime();
                finished = true;
                if (producer != null) {
                    LockSupport.unpark(producer);
                }
            }
        }
    }
}
