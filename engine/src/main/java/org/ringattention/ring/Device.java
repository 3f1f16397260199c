package org.ringattention.ring;

import org.ringattention.attention.KvShard;
import org.ringattention.attention.QueryShard;

/**
 * One device of the ring: its query shard (queries, running state, results), the key/value buffer
 * it computes on ({@link #current}) and the one its link from the previous device fills
 * ({@link #incoming}), and where it is in the ring's steps. The fields below the buffers belong to
 * {@link Ring}, which reads and writes them under its lock.
 */
final class Device {

    final int id;
    final QueryShard queries;
    KvShard current;
    KvShard incoming;

    int step;
    int tasks;
    int claimed;
    int finished;
    boolean computed;
    boolean done;
    boolean[] sent;
    boolean[] received;
    long stepStart;
    long computeEnd;
    long pairs;

    Device(int id, QueryShard queries, KvShard current, KvShard incoming, int steps) {
        this.id = id;
        this.queries = queries;
        this.current = current;
        this.incoming = incoming;
        this.sent = new boolean[steps];
        this.received = new boolean[steps + 1];
        this.received[0] = true; // its own shard
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
