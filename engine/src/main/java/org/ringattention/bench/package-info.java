/**
 * Measuring tools for benchmarks: the machine's floating-point ceiling ({@link
 * org.ringattention.bench.FmaPeak}) and a description of the machine ({@link
 * org.ringattention.bench.MachineInfo}) to print beside the numbers.
 */
package org.ringattention.bench;
