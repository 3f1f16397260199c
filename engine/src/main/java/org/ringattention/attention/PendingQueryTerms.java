package org.ringattention.attention;

import java.util.Arrays;

/**
 * The dQ terms dS_ij K_j of one backward task that are computed but not yet added, because key
 * block j − 1 had not had its turn at those query blocks yet ({@link QueryGradients}). Holding a few
 * lets a task run ahead of the task before it instead of waiting at every query block: at two
 * workers the waits took about an eighth of the backward pass.
 *
 * <p>Layout: {@link #CAPACITY} buffers of {@code blockRows × d} floats in one array, used as a FIFO
 * in query-block order. A term is the product computed from zero into its buffer, so adding it to
 * dQ_i later gives the same bits as the kernel adding it in place: the kernel's last step is
 * {@code c += a} either way, and {@code 0 + a} is a (dQ's sums never hold −0, so {@code x + (+0)}
 * and {@code x + (−0)} agree).
 *
 * <p>Owned by one worker's workspace; not thread-safe.
 */
final class PendingQueryTerms {

    /** Terms held at most; the task waits for the oldest when all are taken. */
    static final int CAPACITY = 4;

    private final int blockFloats;
    private final float[] buffers;
    private final int[] slots = new int[CAPACITY];
    private final int[] floats = new int[CAPACITY]; // 0 for a tile the mask hides: only the turn passes
    private final int[] positions = new int[CAPACITY];
    private int first;
    private int count;

    PendingQueryTerms(int blockRows, int d) {
        blockFloats = blockRows * d;
        buffers = new float[CAPACITY * blockFloats];
    }

    boolean isEmpty() {
        return count == 0;
    }

    boolean isFull() {
        return count == CAPACITY;
    }

    /**
     * Takes the next buffer for the term of query slot {@code slot} ({@code termFloats} floats,
     * zeroed, or 0 when the tile is hidden and only its turn is to pass) and returns its offset in
     * {@link #buffers()}.
     */
    int add(int slot, int termFloats) {
        int at = (first + count) % CAPACITY;
        slots[at] = slot;
        floats[at] = termFloats;
        positions[at] = at * blockFloats;
        count++;
        Arrays.fill(buffers, positions[at], positions[at] + termFloats, 0f);
        return positions[at];
    }

    float[] buffers() {
        return buffers;
    }

    /** The query slot of the oldest term. */
    int oldestSlot() {
        return slots[first];
    }

    /** Adds the oldest term to {@code target} from {@code base} (its turn has come) and drops it. */
    void addOldestTo(float[] target, int base) {
        int n = floats[first];
        int from = positions[first];
        for (int t = 0; t < n; t++) {
            target[base + t] += buffers[from + t];
        }
        dropOldest();
    }

    /** Whether the oldest term is a hidden tile's, with nothing to add. */
    boolean oldestIsEmpty() {
        return floats[first] == 0;
    }

    void dropOldest() {
        first = (first + 1) % CAPACITY;
        count--;
    }

    /** Forgets every term: a task that failed. */
    void clear() {
        first = 0;
        count = 0;
    }

    long floats() {
        return buffers.length;
    }
}
