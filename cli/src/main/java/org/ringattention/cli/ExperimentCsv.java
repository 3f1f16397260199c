package org.ringattention.cli;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * An experiment's CSV read back (for {@code experiment replot}): a header line of column names, then
 * rows of plain comma-separated values (the experiments write no quoted fields). Cells are looked up
 * by column name, so a column added later does not move the others.
 */
record ExperimentCsv(Path file, List<String> header, List<String[]> cells) {

    static ExperimentCsv read(Path file) throws IOException {
        List<String> lines = Files.readAllLines(file, StandardCharsets.UTF_8).stream()
                .filter(l -> !l.isBlank()).toList();
        if (lines.size() < 2) {
            throw CliException.data(file + ": no rows");
        }
        List<String> header = List.of(lines.get(0).split(",", -1));
        List<String[]> cells = lines.subList(1, lines.size()).stream().map(l -> l.split(",", -1)).toList();
        for (int i = 0; i < cells.size(); i++) {
            if (cells.get(i).length != header.size()) {
                throw CliException.data(file + ": line " + (i + 2) + " has " + cells.get(i).length + " fields, the"
                        + " header " + header.size());
            }
        }
        return new ExperimentCsv(file, header, cells);
    }

    int rows() {
        return cells.size();
    }

    String at(int row, String column) {
        int c = header.indexOf(column);
        if (c < 0) {
            throw CliException.data(file + ": no column " + column + " (has " + String.join(", ", header) + ")");
        }
        return cells.get(row)[c];
    }

    int intAt(int row, String column) {
        return (int) longAt(row, column);
    }

    long longAt(int row, String column) {
        return parsed(row, column, Long::valueOf, "an integer");
    }

    double doubleAt(int row, String column) {
        return parsed(row, column, Double::valueOf, "a number");
    }

    private <T> T parsed(int row, String column, java.util.function.Function<String, T> parse, String what) {
        String v = at(row, column);
        try {
            return parse.apply(v);
        } catch (NumberFormatException e) {
            throw CliException.data(file + ": line " + (row + 2) + ", column " + column + ": not " + what + ": '" + v
                    + "'");
        }
    }
}
