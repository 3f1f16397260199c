package org.ringattention.ring;

import java.util.HashMap;
import java.util.Map;

/** {@link InProcessLink}s, one per device and pass, shared by the two devices each joins. */
final class InProcessLinks implements Links {

    private final LinkModel model;
    private final Map<Long, InProcessLink> links = new HashMap<>();

    InProcessLinks(LinkModel model) {
        this.model = model;
    }

    @Override
    public synchronized Link link(int from, int pass) {
        return links.computeIfAbsent(((long) pass << 32) | from, key -> new InProcessLink(from, model));
    }
}
