package org.ringattention.ring;

import org.ringattention.attention.KvShard;
import org.ringattention.attention.QueryShard;
import org.ringattention.tasks.TaskScheduler;

/**
 * One device of the ring: its query shard (queries, running state, results), the key/value buffer
 * it computes on ({@link #current}) and the one its incoming link fills ({@link #incoming}), and
 * where it is in the ring's steps.
 *
 * <p>Who writes what: everything belongs to the device's {@link DeviceProtocol} thread; the
 * workers report on the step's {@link #tasks} (the batch the protocol published to the
 * {@link TaskScheduler}). {@link #step}, {@link #waitingFor} and {@link #done} are volatile for
 * the supervisor's stall message.
 */
final class Device {

    final int id;
    final QueryShard queries;
    KvShard current;
    KvShard incoming;

    volatile int step;
    volatile String waitingFor = "its start";
    volatile boolean done;
    TaskScheduler.Batch tasks;
    long stepStart;
    volatile Thread thread;

    Device(int id, QueryShard queries, KvShard current, KvShard incoming) {
        this.id = id;
        this.queries = queries;
        this.current = current;
        this.incoming = incoming;
    }

    /** Bytes of this device's buffers. */
    long bytes() {
        return queries.bytes() + current.bytes() + incoming.bytes();
    }

    /** Swaps the buffers: what came in is what the device computes on next. */
    void swapBuffers() {
        KvShard t = current;
        current = incoming;
        incoming = t;
    }
}
