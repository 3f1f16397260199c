package org.ringattention.mpi;

import org.ringattention.ring.Link;
import org.ringattention.ring.Links;

/**
 * The links of this rank's device in a ring of one device per rank (device i on rank i): link(i)
 * is the producer end towards rank i + 1, link(i − 1) the consumer end from rank i − 1. Each pass
 * and each run get tags of their own ({@code runTag} separates runs in one job), so messages of
 * consecutive passes cannot be confused.
 */
public final class MpiLinks implements Links {

    private static final int PASSES_PER_RUN = 2;

    private final Mpi mpi;
    private final int run;

    /** Links for run number {@code run} of this job (0, 1, ...; every rank counts alike). */
    public MpiLinks(Mpi mpi, int run) {
        this.mpi = mpi;
        this.run = run;
    }

    @Override
    public Link link(int from, int pass) {
        if (pass >= PASSES_PER_RUN) {
            throw new IllegalArgumentException("pass " + pass + " of a run (at most " + PASSES_PER_RUN + ")");
        }
        int p = mpi.size();
        int me = mpi.rank();
        int tagBase = ((run * PASSES_PER_RUN) + pass) * MpiLink.KINDS;
        if (tagBase + MpiLink.KINDS > 32767) { // MPI guarantees tags up to 32767
            throw new IllegalArgumentException("too many runs in one job for MPI's tags: " + run);
        }
        if (from == me) {
            return new MpiLink(mpi, true, Math.floorMod(me + 1, p), tagBase);
        }
        if (Math.floorMod(from + 1, p) == me) {
            return new MpiLink(mpi, false, from, tagBase);
        }
        throw new IllegalArgumentException("rank " + me + " holds neither end of the link from device " + from);
    }
}
