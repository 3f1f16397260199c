package org.ringattention.model;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Future;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.function.IntConsumer;

/**
 * Runs independent tasks 0..n-1 on a fixed number of threads. Each task writes only the rows (or columns) it owns,
 * so results do not depend on the number of threads or on scheduling. Idle workers end after
 * {@link #IDLE_SECONDS} (and start again when work comes), so a pool kept between calls, as a
 * decoder keeps one between its steps, leaves no thread behind once it is no longer used.
 */
final class Tasks implements AutoCloseable {

    static final long IDLE_SECONDS = 2;

    private final ExecutorService pool;
    private final int threads;

    Tasks(int threads) {
        if (threads < 1) {
            throw new IllegalArgumentException("threads must be >= 1, got " + threads);
        }
        this.threads = threads;
        if (threads == 1) {
            this.pool = null;
        } else {
            ThreadPoolExecutor p = new ThreadPoolExecutor(threads, threads, IDLE_SECONDS, TimeUnit.SECONDS,
                    new LinkedBlockingQueue<>(), r -> {
                        Thread t = new Thread(r, "model-worker");
                        t.setDaemon(true);
                        return t;
                    });
            p.allowCoreThreadTimeOut(true);
            this.pool = p;
        }
    }

    int threads() {
        return threads;
    }

    /** Runs {@code task} for 0..n-1 and waits; the first failure (in task order) is rethrown. */
    void run(int n, IntConsumer task) {
        if (pool == null || n <= 1) {
            for (int i = 0; i < n; i++) {
                task.accept(i);
            }
            return;
        }
        List<Future<?>> futures = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            int id = i;
            futures.add(pool.submit(() -> task.accept(id)));
        }
        RuntimeException failure = null;
        for (Future<?> f : futures) {
            try {
                f.get();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted", e);
            } catch (ExecutionException e) {
                if (failure == null) {
                    failure = e.getCause() instanceof RuntimeException re ? re
                            : new IllegalStateException(e.getCause());
                }
            }
        }
        if (failure != null) {
            throw failure;
        }
    }

    @Override
    public void close() {
        if (pool != null) {
            pool.shutdownNow();
        }
    }
}
