package org.ringattention.mpi;

/** An MPI call failed, or MPI is missing; the message names the call. */
public final class MpiException extends RuntimeException {

    public MpiException(String message) {
        super(message);
    }
}
