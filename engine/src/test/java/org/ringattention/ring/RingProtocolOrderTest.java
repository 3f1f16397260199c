package org.ringattention.ring;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.ringattention.ring.ShardlessRing.HANG;

import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;
import org.ringattention.attention.ShardAttention;
import org.ringattention.tasks.Tasks;

/**
 * What each device asks of its links in a pass, on {@link ReadyLinks} (a credit is always in): per
 * link one grant and one K, V send per send step (P − 1 forward, P backward), a dK, dV send per
 * send step backward, and, the credit being in, each step's K, V send made before the step's tasks
 * are asked for (so that the send does not wait behind the workers). Devices without shards.
 */
class RingProtocolOrderTest {


    private static void assertPass(int devices, boolean gradients) {
        ReadyLinks links = new ReadyLinks(-1);
        int sends = DeviceProtocol.sendsPerPass(devices, gradients);
        Map<String, Integer> sentWhenAsked = new TreeMap<>(); // "device/step" -> K, V sends made on its link by then
        Ring.Work work = (device, step) -> {
            ReadyLinks.Ready out = links.made(device.id);
            synchronized (sentWhenAsked) {
                sentWhenAsked.put(device.id + "/" + step, out == null ? 0 : out.sends);
            }
            return Tasks.<ShardAttention.Workspace>of(1, (w, task) -> 1);
        };
        List<StepRecord> steps = assertTimeoutPreemptively(HANG,
                () -> ShardlessRing.ring(ShardlessRing.devices(devices), gradients, links, work, 2).run());

        assertEquals(devices * devices, steps.size());
        Map<String, Integer> expected = new TreeMap<>();
        for (int i = 0; i < devices; i++) {
            ReadyLinks.Ready l = links.made(i);
            assertEquals(sends, l.grants, "grants on link " + i);
            assertEquals(sends, l.sends, "K, V sends on link " + i);
            assertEquals(gradients ? sends : 0, l.gradientSends, "dK, dV sends on link " + i);
            for (int s = 0; s < devices; s++) {
                expected.put(i + "/" + s, Math.min(s + 1, sends));
            }
        }
        assertEquals(expected, sentWhenAsked, "K, V sends made when each step's tasks were asked for");
    }

    @Test
    void aForwardPassOfThreeDevices() {
        assertPass(3, false);
    }

    @Test
    void aBackwardPassOfThreeDevices() {
        assertPass(3, true);
    }

    @Test
    void aForwardPassOfTwoDevices() {
        assertPass(2, false);
    }
}
