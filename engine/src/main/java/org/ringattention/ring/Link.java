package org.ringattention.ring;

import org.ringattention.attention.KvShard;
import org.ringattention.attention.Positions;

/**
 * One hop of a ring, from device i to device i + 1 mod P: a single-producer, single-consumer
 * channel of key/value shards with credits for back-pressure. Implementations: in-process (a copy
 * into the receiver's buffer plus a simulated bandwidth and latency, {@code InProcessLink}) and MPI
 * (nonblocking sends and receives, in the {@code mpi} module).
 *
 * <p><b>Protocol.</b> The consumer (device i + 1) {@link #grant}s a free buffer: one credit, the
 * room for one shard. The producer (device i) may {@link #sendKeysValues} only while it
 * {@link #hasCredit}; in the backward pass it follows with {@link #sendGradients} of the same shard
 * once the step's tasks have written them. The producer must not change the shard until
 * {@link #sent} is true; the consumer must not read the buffer until {@link #arrived} is true. A
 * link holds at most one shard in flight: the consumer grants the next buffer only after it has
 * taken the previous one.
 *
 * <p><b>Concurrency contract.</b> The consumer methods ({@link #grant}, {@link #arrived}) are
 * called by one thread, the receiving device's; the producer methods ({@link #hasCredit},
 * {@link #sendKeysValues}, {@link #sendGradients}, {@link #sent}, {@link #bytesSent},
 * {@link #transferNanos}) by one thread, the sending device's; {@link #abort} and {@link #close} by
 * any thread. No method blocks: callers poll with an {@link IdleStrategy}. A true
 * {@link #arrived} happens-before the consumer's reads of the buffer (every write of the shard
 * into it precedes it); a true {@link #sent} happens-after every read of the producer's shard;
 * a true {@link #hasCredit} happens-after the consumer's last read of the granted buffer.
 * Implementations may wake a parked producer or consumer thread with
 * {@link java.util.concurrent.locks.LockSupport#unpark} when a condition turns true.
 */
public interface Link {

    // ---------------------------------------------------------------- consumer (device i + 1)

    /**
     * Offers {@code buffer} to receive the next shard, expected to be device {@code owner}'s at
     * {@code positions}: one credit.
     */
    void grant(KvShard buffer, int owner, Positions positions);

    /** True once the shard for the last grant is complete in the buffer (with dK and dV in the backward pass). */
    boolean arrived();

    // ---------------------------------------------------------------- producer (device i)

    /** True while the consumer has granted a buffer not yet used by a send. */
    boolean hasCredit();

    /** Starts sending K, V and what describes them from {@code shard}; uses the credit. */
    void sendKeysValues(KvShard shard);

    /** Starts sending the running dK and dV of the shard last sent (backward pass). */
    void sendGradients(KvShard shard);

    /** True once every send started so far has completed: the shard may change. */
    boolean sent();

    /** Bytes the last completed shard took over this link. */
    long bytesSent();

    /** Nanoseconds the link was busy with the last completed shard. */
    long transferNanos();

    // ---------------------------------------------------------------- either end's thread

    /**
     * Gives the transport a chance to move data: called by the device thread of either end while it
     * waits for anything (its tasks included), because some transports (MPI) progress only inside
     * their own calls. Does nothing by default.
     */
    default void progress() {
    }

    /**
     * True while a transfer at this end is under way that moves only when {@link #progress} is
     * called; while neither of its links is, a device waiting for its tasks parks until a worker
     * wakes it instead of polling. False by default (the in-process link moves on its own thread).
     */
    default boolean transferring() {
        return false;
    }

    // ---------------------------------------------------------------- any thread

    /**
     * Gives the transport a chance to move data from a worker thread, called after each of the
     * ring's tasks on this process: with as many workers as cores, the device thread that calls
     * {@link #progress} must take a worker's core to run, and a transport that moves only inside
     * its own calls (MPI over TCP) then stalls for as long as the device thread waits for one.
     * Thread-safe, cheap when there is nothing to do, and touching no state the device thread
     * reads; the link decides how often it acts. Does nothing by default.
     */
    default void assist() {
    }

    /** Who is at the other end, for messages: "device 3", "rank 3". */
    default String peer(boolean consumerSide) {
        return consumerSide ? "the previous device" : "the next device";
    }

    /** The ring failed: stop transfers under way, wake whoever waits. Idempotent. */
    void abort();

    /** The pass is over: releases what the link holds (threads, buffers). Idempotent. */
    void close();
}
