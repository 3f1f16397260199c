package org.ringattention.tasks;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.api.Test;

/** The scheduler's contract: every task once, started in increasing order, failures and stops. */
class TaskSchedulerTest {

    /** Far beyond what any of these takes even on a loaded machine; reached only by a hang. */
    /** A hang guard, not a speed limit: far beyond the runs' milliseconds and a JVM stopped for a minute or two. */
    private static final Duration HANG = Duration.ofMinutes(10);

    @Test
    void runAllRunsEveryTaskOnceAndAddsTheirResults() {
        for (int threads = 1; threads <= 4; threads++) {
            for (int count : new int[] {0, 1, 3, 97}) {
                AtomicIntegerArray runs = new AtomicIntegerArray(Math.max(1, count));
                Integer[] ws = workspaces(threads);
                long sum = assertTimeoutPreemptively(HANG, () -> TaskScheduler.runAll(ws, Tasks.of(count, (w, t) -> {
                    runs.incrementAndGet(t);
                    return t + 1;
                })));
                assertEquals((long) count * (count + 1) / 2, sum, "threads=" + threads + " count=" + count);
                for (int t = 0; t < count; t++) {
                    assertEquals(1, runs.get(t), "task " + t);
                }
            }
        }
    }

    @Test
    void workersUseTheirOwnWorkspaceAndStartTasksInIncreasingOrder() {
        Integer[] ws = workspaces(3);
        List<List<Integer>> byWorker = new ArrayList<>();
        for (int w = 0; w < 3; w++) {
            byWorker.add(java.util.Collections.synchronizedList(new ArrayList<>()));
        }
        assertTimeoutPreemptively(HANG, () -> TaskScheduler.runAll(ws, Tasks.of(200, (w, t) -> {
            byWorker.get(w).add(t);
            return 0;
        })));
        for (List<Integer> tasks : byWorker) {
            for (int i = 1; i < tasks.size(); i++) {
                assertTrue(tasks.get(i - 1) < tasks.get(i), "one worker's tasks in increasing order: " + tasks);
            }
        }
        // claims are in increasing order; between claim and start a worker may be overtaken, so
        // only a worker's own sequence is strict, and every task ran once
        assertEquals(200, byWorker.stream().mapToInt(List::size).sum());
    }

    @Test
    void aFailureIsRethrownAfterTheStartedTasksEndedAndStopsTheRest() {
        for (int threads = 1; threads <= 4; threads++) {
            AtomicInteger running = new AtomicInteger();
            AtomicInteger startedAfter = new AtomicInteger();
            AtomicInteger failedYet = new AtomicInteger();
            IllegalStateException fault = new IllegalStateException("injected fault");
            int n = threads;
            IllegalStateException thrown = assertThrows(IllegalStateException.class,
                    () -> assertTimeoutPreemptively(HANG, () -> TaskScheduler.runAll(workspaces(n),
                            Tasks.of(1000, (w, t) -> {
                                running.incrementAndGet();
                                try {
                                    if (failedYet.get() > 0) {
                                        startedAfter.incrementAndGet();
                                    }
                                    if (t == 5) {
                                        failedYet.set(1);
                                        throw fault;
                                    }
                                    Thread.sleep(0, 100_000);
                                    return 0;
                                } finally {
                                    running.decrementAndGet();
                                }
                            }))));
            assertSame(fault, thrown);
            assertEquals(0, running.get(), "no task still running when runAll threw");
            // between the fault and the stop of the batch each other worker may end its task and
            // claim one more, besides the one it may have claimed already: at most two each
            assertTrue(startedAfter.get() <= 2 * (n - 1), "threads=" + n + ": " + startedAfter.get() + " started after");
        }
    }

    @Test
    void aCheckedFailureIsWrapped() {
        Exception checked = new java.io.IOException("checked");
        IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> TaskScheduler.runAll(workspaces(2), Tasks.of(4, (w, t) -> {
                    if (t == 2) {
                        throw checked;
                    }
                    return 0;
                })));
        assertSame(checked, e.getCause());
    }

    @Test
    void workersTakeTheLowestRankFirstAndWakeTheProducer() throws InterruptedException {
        Integer[] ws = workspaces(1);
        List<String> order = java.util.Collections.synchronizedList(new ArrayList<>());
        CountDownLatch hold = new CountDownLatch(1);
        TaskScheduler<Integer> s = new TaskScheduler<>(ws, 3, TaskScheduler.Supervisor.NONE);
        Thread me = Thread.currentThread();
        TaskScheduler.Batch blocker = s.publish(0, 0, 0, Tasks.of(1, (w, t) -> {
            hold.await();
            return 0;
        }), me);
        Thread worker = Thread.ofPlatform().daemon().name("test-worker").start(() -> s.runWorker(0));
        // while the worker is held in slot 0's task, slots 1 and 2 publish at ranks 2 and 1
        TaskScheduler.Batch late = s.publish(1, 2, 1, Tasks.of(2, (w, t) -> {
            order.add("rank 2 task " + t);
            return 10;
        }), me);
        TaskScheduler.Batch early = s.publish(2, 1, 2, Tasks.of(2, (w, t) -> {
            order.add("rank 1 task " + t);
            return 1;
        }), me);
        assertFalse(blocker.finished());
        hold.countDown();
        long deadline = System.nanoTime() + HANG.toNanos();
        while (!late.completed() && System.nanoTime() < deadline) {
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(10));
        }
        assertTrue(blocker.completed() && early.completed() && late.completed());
        assertEquals(List.of("rank 1 task 0", "rank 1 task 1", "rank 2 task 0", "rank 2 task 1"), order);
        assertEquals(2, early.sum());
        assertEquals(20, late.sum());
        assertEquals(1, late.tag());
        assertEquals(2, late.rank());
        assertTrue(late.endNanos() >= early.endNanos());
        s.stop();
        worker.join(HANG.toMillis());
        assertFalse(worker.isAlive(), "runWorker returns after stop");
    }

    @Test
    void aWorkersFailureReachesTheSupervisorAndTheBatchNeverCompletes() throws InterruptedException {
        AtomicReference<TaskScheduler.Batch> failedBatch = new AtomicReference<>();
        AtomicReference<Throwable> failure = new AtomicReference<>();
        AtomicInteger before = new AtomicInteger();
        AtomicInteger ended = new AtomicInteger();
        TaskScheduler<Integer> s = new TaskScheduler<>(workspaces(1), 1, new TaskScheduler.Supervisor() {
            @Override
            public void beforeTask(TaskScheduler.Batch batch, int task) {
                before.incrementAndGet();
            }

            @Override
            public void taskEnded(TaskScheduler.Batch batch) {
                ended.incrementAndGet();
            }

            @Override
            public void failed(TaskScheduler.Batch batch, Throwable t) {
                failedBatch.set(batch);
                failure.set(t);
            }
        });
        TaskScheduler.Batch b = s.publish(0, 7, 3, Tasks.of(5, (w, t) -> {
            if (t == 1) {
                Thread.currentThread().interrupt(); // the worker is interrupted during its task
            }
            return 0;
        }), null);
        Thread worker = Thread.ofPlatform().daemon().name("test-worker").start(() -> s.runWorker(0));
        worker.join(HANG.toMillis());
        assertFalse(worker.isAlive(), "a worker whose task failed returns");
        assertSame(b, failedBatch.get());
        assertInstanceOf(InterruptedException.class, failure.get());
        assertEquals(2, before.get());
        assertEquals(1, ended.get());
        assertTrue(b.finished());
        assertFalse(b.completed(), "a failed batch does not complete");
    }

    @Test
    void anInterruptedIdleWorkerIsReportedWithoutABatch() throws InterruptedException {
        AtomicReference<Throwable> failure = new AtomicReference<>();
        AtomicReference<TaskScheduler.Batch> batch = new AtomicReference<>(new TaskScheduler.Batch(
                Tasks.of(0, (w, t) -> 0), 0, 0, null));
        TaskScheduler<Integer> s = new TaskScheduler<>(workspaces(1), 1, new TaskScheduler.Supervisor() {
            @Override
            public void failed(TaskScheduler.Batch b, Throwable t) {
                batch.set(b);
                failure.set(t);
            }
        });
        Thread worker = Thread.ofPlatform().daemon().name("test-worker").start(() -> s.runWorker(0));
        worker.interrupt();
        worker.join(HANG.toMillis());
        assertFalse(worker.isAlive());
        assertNull(batch.get());
        assertInstanceOf(InterruptedException.class, failure.get());
    }

    private static Integer[] workspaces(int n) {
        Integer[] ws = new Integer[n];
        for (int i = 0; i < n; i++) {
            ws[i] = i;
        }
        return ws;
    }
}
