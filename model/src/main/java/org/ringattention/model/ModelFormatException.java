package org.ringattention.model;

import java.io.IOException;

/** A model folder that cannot be used: a missing or malformed file, or a tensor missing or of the wrong shape. */
public final class ModelFormatException extends IOException {

    private static final long serialVersionUID = 1L;

    public ModelFormatException(String message) {
        super(message);
    }
}
