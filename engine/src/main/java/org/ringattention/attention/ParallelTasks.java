package org.ringattention.attention;

import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Runs tasks 0..n−1 on a fixed pool of T threads: the calling thread and T − 1 daemon threads
 * that are created once per T and reused. Workers take the next task number from a shared counter,
 * so which worker runs a task depends on timing; callers make results independent of that by
 * having each task own its outputs (no two tasks write the same element) and compute them in a
 * fixed order.
 *
 * <p>The first exception a task throws is rethrown to the caller once every worker has stopped;
 * remaining tasks are not started.
 */
final class ParallelTasks {

    /** What a worker runs: task number {@code task} with the worker's own state. */
    interface Body<W> {
        void run(W workspace, int task);
    }

    private static final ConcurrentHashMap<Integer, ExecutorService> POOLS = new ConcurrentHashMap<>();

    private ParallelTasks() {
    }

    /**
     * Runs {@code body} for tasks 0..tasks−1 on {@code workspaces.length} workers, worker w using
     * {@code workspaces[w]}.
     */
    static <W> void run(int tasks, W[] workspaces, Body<W> body) {
        int threads = Math.min(workspaces.length, tasks);
        if (threads <= 1) {
            for (int t = 0; t < tasks; t++) {
                body.run(workspaces[0], t);
            }
            return;
        }
        AtomicInteger next = new AtomicInteger();
        AtomicReference<Throwable> failure = new AtomicReference<>();
        CountDownLatch helpersDone = new CountDownLatch(threads - 1);
        ExecutorService pool = POOLS.computeIfAbsent(workspaces.length - 1, ParallelTasks::newPool);
        for (int w = 1; w < threads; w++) {
            W ws = workspaces[w];
            pool.execute(() -> {
                try {
                    work(ws, tasks, next, failure, body);
                } finally {
                    helpersDone.countDown();
                }
            });
        }
        work(workspaces[0], tasks, next, failure, body);
        try {
            helpersDone.await();
        } catch (InterruptedException e) {
            next.set(tasks); // let the helpers stop after their current task
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while waiting for attention workers", e);
        }
        Throwable t = failure.get();
        if (t instanceof RuntimeException re) {
            throw re;
        }
        if (t instanceof Error err) {
            throw err;
        }
        if (t != null) {
            throw new IllegalStateException(t);
        }
    }

    private static <W> void work(W ws, int tasks, AtomicInteger next, AtomicReference<Throwable> failure,
            Body<W> body) {
        try {
            for (int t = next.getAndIncrement(); t < tasks; t = next.getAndIncrement()) {
                body.run(ws, t);
            }
        } catch (Throwable e) {
            failure.compareAndSet(null, e);
            next.set(tasks);
        }
    }

    private static ExecutorService newPool(int threads) {
        AtomicInteger count = new AtomicInteger();
        return Executors.newFixedThreadPool(threads, r -> {
            Thread t = new Thread(r, "attention-worker-" + threads + "-" + count.incrementAndGet());
            t.setDaemon(true);
            return t;
        });
    }
}
