package org.ringattention.mpi;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import org.ringattention.attention.KvShard;
import org.ringattention.attention.Positions;
import org.ringattention.ring.Link;

/**
 * One end of a ring {@link Link} whose other end is another MPI rank: the producer end on the
 * rank of device i (sending to rank i + 1), or the consumer end on the rank of device i + 1
 * (receiving from rank i). Everything is nonblocking (MPI_Isend, MPI_Irecv, MPI_Test), so the
 * device thread polls while the workers compute; {@link #progress} lets MPI move data meanwhile
 * (Open MPI progresses only inside its calls).
 *
 * <p><b>Messages</b> (tags {@code tagBase + kind}, bytes as MPI_BYTE, floats in native order):
 * <ul>
 *   <li>KV, producer to consumer: a 16-byte header {int owner, length, blockCols, 0}, then K and V;
 *   <li>GRAD, producer to consumer (backward pass): dK and dV of the same shard;
 *   <li>CREDIT, consumer to producer: one int, the owner whose shard the granted buffer expects.
 * </ul>
 * A credit is sent only once the receives for it are posted, so every shard lands in a posted
 * buffer: off-heap staging buffers of the link (the engine's shards are heap arrays, so the
 * producer copies a shard out once and the consumer copies it in once). MPI keeps messages of one
 * source and tag in order, and a pass's credits bound the messages in flight to one shard.
 *
 * <p>Concurrency: as {@link Link}; each end is used by its device's thread only, except
 * {@link #abort} (any thread), which only sets a flag, and {@link #assist} (the workers), which
 * only calls MPI's progress.
 */
final class MpiLink implements Link {

    static final int KV = 0;
    static final int GRAD = 1;
    static final int CREDIT = 2;
    static final int KINDS = 4;
    private static final long HEADER = 16;

    private final Mpi mpi;
    private final boolean producer;
    private final int peer;
    private final int tagBase;
    private final Arena arena = Arena.ofShared();
    private final MemorySegment flag = arena.allocate(JAVA_INT);
    private final MemorySegment creditBuffer = arena.allocate(JAVA_INT);
    private final MemorySegment creditRequest = arena.allocate(ADDRESS);
    private final MemorySegment kvRequest = arena.allocate(ADDRESS);
    private final MemorySegment gradRequest = arena.allocate(ADDRESS);
    private MemorySegment kvStage;
    private MemorySegment gradStage;
    private boolean creditPending;
    private boolean creditSendPending;
    private boolean credit;
    private boolean kvPending;
    private boolean gradPending;
    private boolean kvDone;
    private KvShard granted;
    private int grantedOwner;
    private Positions grantedPositions;
    private boolean arrived;
    private long sendStart;
    private long bytes;
    private long lastBytes;
    private long lastNanos;
    private volatile boolean aborted;
    private boolean closed;

    /**
     * @param producer true for the end that sends shards (to {@code peer}), false for the end that receives
     *     them (from {@code peer})
     */
    MpiLink(Mpi mpi, boolean producer, int peer, int tagBase) {
        this.mpi = mpi;
        this.producer = producer;
        this.peer = peer;
        this.tagBase = tagBase;
    }

    // ---------------------------------------------------------------- consumer

    @Override
    public void grant(KvShard buffer, int owner, Positions positions) {
        requireRole(false, "grant");
        granted = buffer;
        grantedOwner = owner;
        grantedPositions = positions;
        arrived = false;
        kvDone = false;
        kvStage = stage(kvStage, HEADER + 2 * buffer.capacityFloats() * Float.BYTES);
        mpi.irecv(kvStage, bytes(kvStage), peer, tagBase + KV, kvRequest);
        kvPending = true;
        if (buffer.backward()) {
            gradStage = stage(gradStage, 2 * buffer.capacityFloats() * Float.BYTES);
            mpi.irecv(gradStage, bytes(gradStage), peer, tagBase + GRAD, gradRequest);
            gradPending = true;
        }
        finishCreditSend(); // the previous credit's send buffer is reused
        creditBuffer.set(JAVA_INT, 0, owner);
        mpi.isend(creditBuffer, Integer.BYTES, peer, tagBase + CREDIT, creditRequest);
        creditSendPending = true;
    }

    @Override
    public boolean arrived() {
        requireRole(false, "arrived");
        if (arrived) {
            return true;
        }
        if (creditSendPending && mpi.test(creditRequest, flag, MemorySegment.NULL)) {
            creditSendPending = false;
        }
        if (kvPending && mpi.test(kvRequest, flag, MemorySegment.NULL)) {
            kvPending = false;
        }
        if (!kvPending && !kvDone) {
            int owner = kvStage.get(JAVA_INT, 0);
            int length = kvStage.get(JAVA_INT, 4);
            int blockCols = kvStage.get(JAVA_INT, 8);
            if (owner != grantedOwner || length != grantedPositions.length()) {
                throw new MpiException("rank " + peer + " sent the shard of device " + owner + " (" + length
                        + " rows) where device " + grantedOwner + "'s (" + grantedPositions.length()
                        + " rows) was expected");
            }
            granted.readKeysValues(kvStage, HEADER, owner, grantedPositions, length, blockCols);
            kvDone = true;
        }
        if (gradPending && mpi.test(gradRequest, flag, MemorySegment.NULL)) {
            gradPending = false;
        }
        if (kvDone && !gradPending) {
            if (granted.backward()) {
                granted.readGradients(gradStage, 0);
            }
            arrived = true;
        }
        return arrived;
    }

    // ---------------------------------------------------------------- producer

    @Override
    public boolean hasCredit() {
        requireRole(true, "hasCredit");
        if (!credit) {
            if (!creditPending) {
                mpi.irecv(creditBuffer, Integer.BYTES, peer, tagBase + CREDIT, creditRequest);
                creditPending = true;
            }
            if (mpi.test(creditRequest, flag, MemorySegment.NULL)) {
                creditPending = false;
                credit = true;
                grantedOwner = creditBuffer.get(JAVA_INT, 0);
            }
        }
        return credit;
    }

    @Override
    public void sendKeysValues(KvShard shard) {
        requireRole(true, "sendKeysValues");
        if (!credit) {
            throw new IllegalStateException("a send to rank " + peer + " without a credit");
        }
        if (shard.owner() != grantedOwner) {
            throw new IllegalStateException("sends the shard of device " + shard.owner() + " where rank " + peer
                    + " expects that of device " + grantedOwner);
        }
        credit = false;
        sendStart = System.nanoTime();
        long n = HEADER + 2 * shard.keyValueFloats() * Float.BYTES;
        kvStage = stage(kvStage, HEADER + 2 * shard.capacityFloats() * Float.BYTES);
        kvStage.set(JAVA_INT, 0, shard.owner());
        kvStage.set(JAVA_INT, 4, shard.length());
        kvStage.set(JAVA_INT, 8, shard.blockCols());
        kvStage.set(JAVA_INT, 12, 0);
        shard.writeKeysValues(kvStage, HEADER);
        mpi.isend(kvStage, Math.toIntExact(n), peer, tagBase + KV, kvRequest);
        kvPending = true;
        bytes = 2 * shard.keyValueFloats() * Float.BYTES;
    }

    @Override
    public void sendGradients(KvShard shard) {
        requireRole(true, "sendGradients");
        long n = 2 * shard.keyValueFloats() * Float.BYTES;
        gradStage = stage(gradStage, 2 * shard.capacityFloats() * Float.BYTES);
        shard.writeGradients(gradStage, 0);
        mpi.isend(gradStage, Math.toIntExact(n), peer, tagBase + GRAD, gradRequest);
        gradPending = true;
        bytes += n;
    }

    @Override
    public boolean sent() {
        requireRole(true, "sent");
        if (kvPending && mpi.test(kvRequest, flag, MemorySegment.NULL)) {
            kvPending = false;
        }
        if (gradPending && mpi.test(gradRequest, flag, MemorySegment.NULL)) {
            gradPending = false;
        }
        boolean done = !kvPending && !gradPending;
        if (done && sendStart != 0) {
            lastNanos = System.nanoTime() - sendStart;
            lastBytes = bytes;
            sendStart = 0;
        }
        return done;
    }

    @Override
    public long bytesSent() {
        return lastBytes;
    }

    @Override
    public long transferNanos() {
        return lastNanos;
    }

    // ---------------------------------------------------------------- either

    /** Lets MPI progress the transfers under way (called by the device thread while it waits). */
    @Override
    public void progress() {
        if (aborted || closed) {
            return;
        }
        if (producer) {
            sent();
        } else if (granted != null) {
            arrived();
        }
    }

    /** From a worker, between tasks: MPI's progress engine, so that TCP transfers move while the device thread waits for a core. */
    @Override
    public void assist() {
        if (!aborted) {
            mpi.poke();
        }
    }

    /** A send not yet complete (producer), or a granted buffer whose shard has not all arrived (consumer). */
    @Override
    public boolean transferring() {
        if (aborted || closed) {
            return false;
        }
        return producer ? kvPending || gradPending : granted != null && !arrived;
    }

    @Override
    public String peer(boolean consumerSide) {
        return "rank " + peer;
    }

    @Override
    public void abort() {
        aborted = true;
    }

    /**
     * Ends the pass. After a clean pass nothing is pending but a credit's send, which is waited for.
     * After a failure the process is about to call MPI_Abort: requests are left as they are and the
     * staging memory is not freed (MPI may still write into it).
     */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        if (aborted || kvPending || gradPending || creditPending) {
            return;
        }
        finishCreditSend();
        arena.close();
    }

    private void finishCreditSend() {
        if (creditSendPending) {
            mpi.await(creditRequest);
            creditSendPending = false;
        }
    }

    private MemorySegment stage(MemorySegment current, long size) {
        if (current != null && current.byteSize() >= size) {
            return current;
        }
        if (size > Integer.MAX_VALUE) {
            throw new MpiException("a shard of " + size + " bytes exceeds one MPI message (2 GiB): use more ranks");
        }
        return arena.allocate(size, 64);
    }

    private static int bytes(MemorySegment s) {
        return Math.toIntExact(s.byteSize());
    }

    private void requireRole(boolean asProducer, String call) {
        if (producer != asProducer) {
            throw new IllegalStateException(call + " on the " + (producer ? "producer" : "consumer") + " end of a link");
        }
    }
}
