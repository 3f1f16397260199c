package org.ringattention.ring;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.LongSupplier;
import org.ringattention.attention.KvShard;
import org.ringattention.attention.Positions;

/**
 * A {@link Link} between two devices of one JVM: a transfer thread (the link's DMA engine, named
 * {@code ring-link-i}) copies the producer's shard straight into the buffer the consumer granted,
 * then waits out what the {@link LinkModel} still asks for. A hop starts when both ends are ready:
 * at the later of the grant and the send (the transfer thread may get a core later than that).
 * In the backward pass dK and dV follow K and V on the same hop, from the later of the end of K and
 * V and the producer's call, taking their bytes at the model's bandwidth.
 *
 * <p>Concurrency: the fields below are guarded by {@link #lock}; the transfer thread is the only
 * one that touches the shards' floats, between a send and the completion it signals under the
 * lock (which orders its writes before the consumer's reads). Completion unparks both ends.
 */
final class InProcessLink implements Link {

    private final int from;
    private final LinkModel model;
    final ReentrantLock lock = new ReentrantLock(); // package-private for InProcessLinkCloseTest
    private final Condition request = lock.newCondition();
    private final Thread transfer;
    private final LongSupplier clock;

    // guarded by lock
    private KvShard granted;
    private int grantedOwner;
    private long grantNanos;
    private boolean credit;
    private KvShard source;
    private long sendNanos;
    private boolean gradientsRequested;
    private long gradientsNanos;
    private boolean inFlight;
    private boolean complete = true;
    private boolean arrived;
    private long bytes;
    private long busyNanos;
    private boolean closed;
    private Thread producer;
    private Thread consumer;
    private RuntimeException failure;

    InProcessLink(int from, LinkModel model) {
        this(from, model, System::nanoTime);
    }

    /** With {@code clock} as the source of nanoseconds for close's bound (tests script it). */
    InProcessLink(int from, LinkModel model, LongSupplier clock) {
        this.from = from;
        this.model = model;
        this.clock = clock;
        this.transfer = Thread.ofPlatform().daemon().name("ring-link-" + from).start(this::transfers);
    }

    @Override
    public void grant(KvShard buffer, int owner, Positions positions) {
        lock.lock();
        try {
            consumer = Thread.currentThread();
            granted = buffer;
            grantedOwner = owner;
            grantNanos = System.nanoTime();
            credit = true;
            arrived = false;
            LockSupport.unpark(producer);
        } finally {
            lock.unlock();
        }
    }

    @Override
    public boolean arrived() {
        lock.lock();
        try {
            rethrow();
            return arrived;
        } finally {
            lock.unlock();
        }
    }

    @Override
    public boolean hasCredit() {
        lock.lock();
        try {
            producer = Thread.currentThread();
            return credit;
        } finally {
            lock.unlock();
        }
    }

    @Override
    public void sendKeysValues(KvShard shard) {
        lock.lock();
        try {
            if (!credit) {
                throw new IllegalStateException("link " + from + ": a send without a credit");
            }
            if (shard.owner() != grantedOwner) {
                throw new IllegalStateException("link " + from + ": sends the shard of device " + shard.owner()
                        + " where the next device expects that of device " + grantedOwner);
            }
            producer = Thread.currentThread();
            credit = false;
            source = shard;
            sendNanos = System.nanoTime();
            gradientsRequested = false;
            inFlight = true;
            complete = false;
            request.signalAll();
        } finally {
            lock.unlock();
        }
    }

    @Override
    public void sendGradients(KvShard shard) {
        lock.lock();
        try {
            if (shard != source || complete) {
                throw new IllegalStateException("link " + from + ": gradients of a shard not being sent");
            }
            gradientsRequested = true;
            gradientsNanos = System.nanoTime();
            request.signalAll();
        } finally {
            lock.unlock();
        }
    }

    @Override
    public boolean sent() {
        lock.lock();
        try {
            rethrow();
            return complete;
        } finally {
            lock.unlock();
        }
    }

    @Override
    public long bytesSent() {
        lock.lock();
        try {
            return bytes;
        } finally {
            lock.unlock();
        }
    }

    @Override
    public long transferNanos() {
        lock.lock();
        try {
            return busyNanos;
        } finally {
            lock.unlock();
        }
    }

    @Override
    public void abort() {
        transfer.interrupt();
    }

    @Override
    public void close() {
        lock.lock();
        try {
            closed = true;
            request.signalAll();
        } finally {
            lock.unlock();
        }
        transfer.interrupt();
        boolean interrupted = false;
        long deadline = clock.getAsLong() + TimeUnit.SECONDS.toNanos(2);
        while (transfer.isAlive() && clock.getAsLong() < deadline) {
            try {
                transfer.join(100);
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }

    // ---------------------------------------------------------------- the transfer thread

    private void transfers() {
        try {
            while (true) {
                KvShard src;
                KvShard dst;
                long start;
                lock.lock();
                try {
                    while (!inFlight) {
                        if (closed) {
                            return;
                        }
                        request.await();
                    }
                    src = source;
                    dst = granted;
                    start = Math.max(grantNanos, sendNanos);
                } finally {
                    lock.unlock();
                }
                dst.copyKeysValuesFrom(src);
                long n = src.keyValueBytes();
                sleepUntil(start + model.nanosFor(n));
                long kvEnd = System.nanoTime();
                long active = kvEnd - start;
                if (dst.backward()) {
                    long requested;
                    lock.lock();
                    try {
                        while (!gradientsRequested) { // dK and dV are complete once the step's tasks are
                            if (closed) {
                                return;
                            }
                            request.await();
                        }
                        requested = gradientsNanos;
                    } finally {
                        lock.unlock();
                    }
                    long g = Math.max(kvEnd, requested);
                    dst.copyGradientsFrom(src);
                    n += src.gradientBytes();
                    sleepUntil(g + model.bandwidthNanos(src.gradientBytes()));
                    active += System.nanoTime() - g;
                }
                lock.lock();
                try {
                    bytes = n;
                    busyNanos = active;
                    inFlight = false;
                    complete = true;
                    arrived = true;
                    granted = null;
                    source = null;
                    LockSupport.unpark(producer);
                    LockSupport.unpark(consumer);
                } finally {
                    lock.unlock();
                }
            }
        } catch (InterruptedException e) {
            fail(new IllegalStateException("the link from device " + from + " was interrupted", e));
        } catch (RuntimeException | Error e) {
            fail(new IllegalStateException("the link from device " + from + " failed: " + e, e));
        }
    }

    private void fail(RuntimeException e) {
        lock.lock();
        try {
            if (!closed && failure == null) {
                failure = e;
            }
            LockSupport.unpark(producer);
            LockSupport.unpark(consumer);
        } finally {
            lock.unlock();
        }
    }

    private void rethrow() {
        if (failure != null && !closed) {
            throw failure;
        }
    }

    private static void sleepUntil(long deadline) throws InterruptedException {
        for (long left = deadline - System.nanoTime(); left > 0; left = deadline - System.nanoTime()) {
            TimeUnit.NANOSECONDS.sleep(left);
        }
    }
}
