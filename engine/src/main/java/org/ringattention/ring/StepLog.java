package org.ringattention.ring;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/** The metrics of a ring run: a {@link StepRecord} per device and step. Thread-safe. */
final class StepLog {

    private final List<StepRecord> records = new ArrayList<>();

    synchronized void add(StepRecord r) {
        records.add(r);
    }

    /** The records by device, then step. */
    synchronized List<StepRecord> sorted() {
        List<StepRecord> copy = new ArrayList<>(records);
        copy.sort(Comparator.comparingInt(StepRecord::device).thenComparingInt(StepRecord::step));
        return List.copyOf(copy);
    }
}
