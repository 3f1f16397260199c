package org.ringattention.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** An experiment's CSV read back: rows as column -> cell, every row as wide as the header. */
final class CsvFile {

    private CsvFile() {
    }

    static List<Map<String, String>> read(Path file, List<String> required) throws IOException {
        List<String> lines = Files.readAllLines(file);
        assertThat(lines).isNotEmpty();
        List<String> header = List.of(lines.get(0).split(","));
        assertThat(header).containsAll(required);
        List<Map<String, String>> rows = new ArrayList<>();
        for (String line : lines.subList(1, lines.size())) {
            String[] cells = line.split(",", -1);
            assertThat(cells).as(line).hasSameSizeAs(header.toArray());
            Map<String, String> row = new LinkedHashMap<>();
            for (int i = 0; i < cells.length; i++) {
                row.put(header.get(i), cells[i]);
            }
            rows.add(row);
        }
        return rows;
    }

    static double num(Map<String, String> row, String column) {
        assertThat(row).containsKey(column);
        return Double.parseDouble(row.get(column));
    }
}
