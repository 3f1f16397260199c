package org.ringattention.tasks;

/**
 * What a stage of attention hands to the {@link TaskScheduler}: tasks 0..{@link #count}−1 that
 * any worker may run, each with the worker's own workspace.
 *
 * <p><b>Contract.</b> No two tasks write the same element, and each task sums what it owns in an
 * order of its own (a fixed order, not the order in which tasks ran), so results do not depend on
 * which worker runs which task, nor on how many workers there are. The scheduler starts the tasks
 * in increasing order: a task may wait for a lower one (the backward pass's dQ turns do), never
 * for a higher one. The {@code long} a task returns (query-key pairs computed, or 0) is added up
 * by the scheduler; integer addition makes that total independent of the order too.
 */
public interface Tasks<W> {

    /** The number of tasks; fewer than 2³⁰. */
    int count();

    /** Runs task {@code task} with the workspace of the worker that runs it; returns a count to add up. */
    long run(W workspace, int task) throws Exception;

    /** A task body, for {@link #of}. */
    @FunctionalInterface
    interface Body<W> {
        long run(W workspace, int task) throws Exception;
    }

    /** Tasks 0..count−1 that run {@code body}. */
    static <W> Tasks<W> of(int count, Body<W> body) {
        if (count < 0) {
            throw new IllegalArgumentException("task count must be >= 0, got " + count);
        }
        return new Tasks<>() {
            @Override
            public int count() {
                return count;
            }

            @Override
            public long run(W workspace, int task) throws Exception {
                return body.run(workspace, task);
            }
        };
    }
}
