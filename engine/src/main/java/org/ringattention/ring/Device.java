package org.ringattention.ring;

import org.ringattention.attention.KvShard;
import org.ringattention.attention.QueryShard;

/**
 * One device of the ring: its query shard (queries, running state, results), the key/value buffer
 * it computes on ({@link #current}) and the one its incoming link fills ({@link #incoming}), and
 * where it is in the ring's steps.
 *
 * <p>Who writes what: the buffers and {@link #stepStart} belong to the device's
 * {@link DeviceProtocol} thread; {@link #step}, {@link #tasks}, {@link #claimed},
 * {@link #finished}, {@link #pairs} and {@link #done} to {@link Workers}, under its lock;
 * {@link #computeEnd} is written before the volatile {@link #computed}, which publishes it.
 * {@link #step} and {@link #waitingFor} are volatile for the supervisor's stall message.
 */
final class Device {

    final int id;
    final QueryShard queries;
    KvShard current;
    KvShard incoming;

    volatile int step;
    volatile String waitingFor = "its start";
    int tasks;
    int claimed;
    int finished;
    long pairs;
    boolean done;
    volatile boolean computed;
    long computeEnd;
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
