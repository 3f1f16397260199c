package org.ringattention.ring;

/**
 * Where a ring's links come from: {@link #link}(i, pass) carries shards from device i to device
 * i + 1 mod P during pass {@code pass} (0 the forward pass, 1 the backward pass of the same run, and
 * so on). A process asks only for the links of its own devices: device i uses link(i) as producer
 * and link(i − 1) as consumer; when both ends live in one process, both get the same object.
 */
public interface Links {

    /** The link from device {@code from} to the next during pass {@code pass}. */
    Link link(int from, int pass);

    /** Simulated links inside one JVM. */
    static Links inProcess(LinkModel model) {
        return new InProcessLinks(model);
    }
}
