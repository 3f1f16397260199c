package org.ringattention.bench;

import java.util.Arrays;

/**
 * The wall times of a benchmark's timed runs, in seconds, in the order they ran, and their
 * statistics: the median is the figure reported (one run disturbed by other work on the machine
 * moves it little), min and max show the spread.
 */
public final class Timings {

    private final double[] seconds;
    private final double[] sorted;

    /** The times of at least one run. */
    public Timings(double... seconds) {
        if (seconds.length == 0) {
            throw new IllegalArgumentException("no timed runs");
        }
        this.seconds = seconds.clone();
        this.sorted = seconds.clone();
        Arrays.sort(sorted);
    }

    /** The wall time of {@code run} in seconds. */
    public static double time(Runnable run) {
        long t0 = System.nanoTime();
        run.run();
        return (System.nanoTime() - t0) / 1e9;
    }

    public int count() {
        return seconds.length;
    }

    /** The times in the order of the runs. */
    public double[] seconds() {
        return seconds.clone();
    }

    /** The median; the mean of the two middle times for an even count. */
    public double median() {
        int n = sorted.length;
        return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
    }

    public double min() {
        return sorted[0];
    }

    public double max() {
        return sorted[sorted.length - 1];
    }

    /** The index (in run order) of the median run; the lower of the two middle ones for an even count. */
    public int medianIndex() {
        Integer[] order = new Integer[seconds.length];
        for (int i = 0; i < order.length; i++) {
            order[i] = i;
        }
        Arrays.sort(order, (a, b) -> Double.compare(seconds[a], seconds[b]));
        return order[(seconds.length - 1) / 2];
    }

    /** The larger of two rates, ignoring a NaN (a measurement that did not happen). */
    public static double maxIgnoringNaN(double a, double b) {
        if (Double.isNaN(a)) {
            return b;
        }
        return Double.isNaN(b) ? a : Math.max(a, b);
    }
}
