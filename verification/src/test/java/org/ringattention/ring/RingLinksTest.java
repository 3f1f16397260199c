package org.ringattention.ring;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;
import org.ringattention.attention.AttentionShape;
import org.ringattention.attention.AttentionSpec;
import org.ringattention.attention.KvShard;
import org.ringattention.attention.Positions;
import org.ringattention.attention.Problem;
import org.ringattention.kernel.Kernels;

/**
 * What a ring asks of its links, seen through links that record each call (and pass it on to
 * in-process links): which links each pass asks for, what each grant expects, and how many grants
 * and sends a pass makes (the schedule of DeviceProtocol: one grant and one send per send step,
 * P − 1 forward and P backward; none at all for a ring of one device).
 */
class RingLinksTest {

    private static final Duration HANG = Duration.ofMinutes(10);

    /** One recorded link: its grants' owners and positions, and the count of each send. */
    private static final class Recording implements Link {
        final Link to;
        final List<String> grants = Collections.synchronizedList(new ArrayList<>());
        volatile int asked;
        volatile int sends;
        volatile int gradientSends;

        Recording(Link to) {
            this.to = to;
        }

        @Override
        public void grant(KvShard buffer, int owner, Positions positions) {
            grants.add(owner + " at " + positions);
            to.grant(buffer, owner, positions);
        }

        @Override
        public boolean arrived() {
            return to.arrived();
        }

        @Override
        public boolean hasCredit() {
            return to.hasCredit();
        }

        @Override
        public void sendKeysValues(KvShard shard) {
            sends++;
            to.sendKeysValues(shard);
        }

        @Override
        public void sendGradients(KvShard shard) {
            gradientSends++;
            to.sendGradients(shard);
        }

        @Override
        public boolean sent() {
            return to.sent();
        }

        @Override
        public long bytesSent() {
            return to.bytesSent();
        }

        @Override
        public long transferNanos() {
            return to.transferNanos();
        }

        @Override
        public void abort() {
            to.abort();
        }

        @Override
        public void close() {
            to.close();
        }
    }

    /** Recording links, one per device and pass, by "from/pass". */
    private static final class RecordingLinks implements Links {
        final Links to = Links.inProcess(LinkModel.UNTHROTTLED);
        final Map<String, Recording> links = new HashMap<>();

        @Override
        public synchronized Link link(int from, int pass) {
            Recording r = links.computeIfAbsent(from + "/" + pass, key -> new Recording(to.link(from, pass)));
            r.asked++;
            return r;
        }
    }

    @Test
    void aRingOfOneDeviceAsksForNoLink() {
        Problem p = problem(40);
        RingAttention ring = RingProperties.ring(16, 16, 2, 1, Layout.CONTIGUOUS);
        RecordingLinks links = new RecordingLinks();
        DeviceResult r = ring.runDevice(0, p.qTensor(), p.kTensor(), p.vTensor(), p.dOutTensor(), p.spec(), links);
        assertThat(r.forward().steps()).hasSize(1);
        assertThat(r.backward().steps()).hasSize(1);
        assertThat(links.links).as("links asked for").isEmpty();
    }

    /**
     * The default stall timeout is 30 s plus twice the model's time for a hop: a link of 16 s
     * latency gives 62 s, and a ring of one device, which never uses its link, is not failed as
     * stalled however slow its link. Its first task holds the pass for 300 ms, so that the
     * supervisor looks several times before the pass ends.
     */
    @Test
    void aSlowLinkDoesNotShortenTheDefaultStallTimeout() {
        assertPassOutlivesPolls(new LinkModel(Double.POSITIVE_INFINITY, 16));
    }

    /** A link so slow that twice its hop time does not fit a long: the timeout saturates instead of wrapping negative. */
    @Test
    void aLinkTooSlowToCountGivesNoStallTimeoutRatherThanANegativeOne() {
        assertPassOutlivesPolls(new LinkModel(1e-9, 0));
    }

    private static void assertPassOutlivesPolls(LinkModel link) {
        Problem p = problem(40);
        AtomicBoolean held = new AtomicBoolean();
        RingAttention ring = new RingAttention(Kernels.preferred(), 16, 16, 1, 1, Layout.CONTIGUOUS,
                link).withFaults((d, s) -> {
                    if (held.compareAndSet(false, true)) {
                        Thread.sleep(300);
                    }
                });
        RingAttention.Forward f = ring.forward(p.qTensor(), p.kTensor(), p.vTensor(), p.spec());
        assertThat(held).isTrue();
        assertThat(f.report().steps()).hasSize(1);
    }

    @Test
    void eachPassAsksForItsOwnLinksAndGrantsAndSendsOncePerSendStep() throws Exception {
        int devices = 3;
        int n = 50;
        Problem p = problem(n);
        RingAttention ring = RingProperties.ring(16, 8, 1, devices, Layout.ZIGZAG);
        RecordingLinks links = new RecordingLinks();
        assertTimeoutPreemptively(HANG, () -> DeviceThreads.run(ring, p, devices, true, links));

        Positions[] keys = Layout.ZIGZAG.split(n, devices);
        assertThat(links.links.keySet()).as("forward is pass 0, backward pass 1")
                .containsExactlyInAnyOrder("0/0", "1/0", "2/0", "0/1", "1/1", "2/1");
        for (int pass = 0; pass < 2; pass++) {
            boolean backward = pass == 1;
            int sends = DeviceProtocol.sendsPerPass(devices, backward);
            for (int from = 0; from < devices; from++) {
                Recording r = links.links.get(from + "/" + pass);
                String at = "link " + from + " pass " + pass;
                assertThat(r.asked).as(at + ": asked for by its two ends").isEqualTo(2);
                assertThat(r.sends).as(at + ": K, V sends").isEqualTo(sends);
                assertThat(r.gradientSends).as(at + ": dK, dV sends").isEqualTo(backward ? sends : 0);
                // device from + 1 receives, at step s, the shard of device (from - s) mod P
                List<String> expected = new ArrayList<>();
                for (int s = 0; s < sends; s++) {
                    int owner = Math.floorMod(from - s, devices);
                    expected.add(owner + " at " + keys[owner]);
                }
                assertThat(r.grants).as(at + ": one grant per send, each for the shard to come").isEqualTo(expected);
            }
        }
    }


    private static Problem problem(int n) {
        return Problem.random(new AttentionShape(1, 2, 2, n, n, 8), AttentionSpec.DEFAULT.withCausal(true), 7, 1);
    }
}
