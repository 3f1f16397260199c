package org.ringattention.ring;

import java.util.HashMap;
import java.util.Map;
import org.ringattention.attention.KvShard;
import org.ringattention.attention.Positions;

/**
 * Links that carry nothing and are always ready (credit in, send done, shard arrived), for rings
 * of devices without shards: the protocol and its supervision alone, with no transfer whose timing
 * could change what a test sees. One link per sender, shared by both its ends; the sender
 * {@code failingFrom} (−1: none) throws on its first K, V send.
 */
final class ReadyLinks implements Links {

    static final String FAULT = "injected link fault";

    private final int failingFrom;
    private final Map<Integer, Ready> made = new HashMap<>();

    ReadyLinks(int failingFrom) {
        this.failingFrom = failingFrom;
    }

    @Override
    public synchronized Link link(int from, int pass) {
        return made.computeIfAbsent(from, f -> new Ready(f == failingFrom));
    }

    /** The link from device {@code from}, once the ring has asked for it. */
    synchronized Ready made(int from) {
        return made.get(from);
    }

    static final class Ready implements Link {
        private final boolean failing;
        volatile int grants;
        volatile int sends;
        volatile int gradientSends;
        volatile boolean aborted;
        volatile boolean closed;

        Ready(boolean failing) {
            this.failing = failing;
        }

        @Override
        public void grant(KvShard buffer, int owner, Positions positions) {
            grants++;
        }

        @Override
        public boolean arrived() {
            return true;
        }

        @Override
        public boolean hasCredit() {
            return true;
        }

        @Override
        public void sendKeysValues(KvShard shard) {
            if (failing) {
                throw new IllegalStateException(FAULT);
            }
            sends++;
        }

        @Override
        public void sendGradients(KvShard shard) {
            gradientSends++;
        }

        @Override
        public boolean sent() {
            return true;
        }

        @Override
        public long bytesSent() {
            return 0;
        }

        @Override
        public long transferNanos() {
            return 0;
        }

        @Override
        public void abort() {
            aborted = true;
        }

        @Override
        public void close() {
            closed = true;
        }
    }
}
