package org.attn4j.cli.json;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.MalformedInputException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.attn4j.cli.CliException;
import tools.jackson.core.JacksonException;
import tools.jackson.core.StreamReadConstraints;
import tools.jackson.core.StreamReadFeature;
import tools.jackson.core.TokenStreamLocation;
import tools.jackson.core.exc.StreamConstraintsException;
import tools.jackson.core.json.JsonFactory;
import tools.jackson.core.util.DefaultPrettyPrinter;
import tools.jackson.core.util.Separators;
import tools.jackson.databind.DeserializationFeature;
import tools.jackson.databind.ObjectWriter;
import tools.jackson.databind.json.JsonMapper;

/**
 * JSON in and out of the command line, on Jackson. Reading gives plain values: objects as
 * {@link LinkedHashMap}, arrays as {@link List}, integers as {@link Long} (or
 * {@link java.math.BigInteger} beyond it), other numbers as {@link Double}, plus {@link String},
 * {@link Boolean} and null. Input is bounded: strict UTF-8, duplicate keys rejected, at most
 * {@link #MAX_DEPTH} levels of nesting and {@link #MAX_BYTES} bytes, so a hostile file ends in
 * one clear message rather than a stack overflow or an exhausted heap.
 */
public final class Json {
    /** Deepest nesting of objects and arrays a file may have. */
    public static final int MAX_DEPTH = 64;
    /** Largest JSON file read (inline index arrays included; large arrays belong in .npy files). */
    public static final long MAX_BYTES = 64L << 20;

    private static final JsonMapper MAPPER = JsonMapper.builder(JsonFactory.builder()
                    .streamReadConstraints(StreamReadConstraints.builder().maxNestingDepth(MAX_DEPTH)
                            .maxDocumentLength(MAX_BYTES).build())
                    .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
                    .build())
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .build();

    private static final ObjectWriter WRITER = MAPPER.writer().with(new DefaultPrettyPrinter(
            Separators.createDefaultInstance().withObjectNameValueSpacing(Separators.Spacing.AFTER)));

    private Json() {}

    /** Parses {@code text}; a malformed document throws {@link IllegalArgumentException} naming line and column. */
    public static Object parse(String text) {
        try {
            return longs(MAPPER.readValue(text, Object.class));
        } catch (StreamConstraintsException e) {
            String m = e.getOriginalMessage();
            throw new IllegalArgumentException(m != null && m.contains("nesting")
                    ? "JSON nested deeper than " + MAX_DEPTH + " levels" : "JSON: " + m);
        } catch (JacksonException e) {
            TokenStreamLocation at = e.getLocation();
            String where = at == null || at == TokenStreamLocation.NA ? "JSON: "
                    : "JSON line " + at.getLineNr() + ", column " + at.getColumnNr() + ": ";
            throw new IllegalArgumentException(where + firstLine(e.getOriginalMessage()));
        }
    }

    /** Integers as Long throughout (Jackson gives Integer where it fits), BigInteger beyond long. */
    private static Object longs(Object v) {
        return switch (v) {
            case Integer i -> i.longValue();
            case Map<?, ?> m -> {
                Map<String, Object> out = new LinkedHashMap<>();
                m.forEach((k, x) -> out.put(String.valueOf(k), longs(x)));
                yield out;
            }
            case List<?> l -> {
                List<Object> out = new ArrayList<>(l.size());
                l.forEach(x -> out.add(longs(x)));
                yield out;
            }
            case null, default -> v;
        };
    }

    /** Reads and parses a file: at most {@link #MAX_BYTES}, strict UTF-8; errors name the file. */
    public static Object readFile(Path file) throws IOException {
        long size = Files.size(file);
        if (size > MAX_BYTES) {
            throw new CliException(file + ": " + size + " bytes is more than the " + MAX_BYTES
                    + " a JSON file may have here (put large arrays in .npy files)");
        }
        byte[] bytes = Files.readAllBytes(file);
        String text;
        try {
            text = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(bytes)).toString();
        } catch (MalformedInputException e) {
            throw new CliException(file + ": not UTF-8 text (a malformed byte near offset " + offsetOf(bytes) + ")");
        } catch (CharacterCodingException e) {
            throw new CliException(file + ": not UTF-8 text");
        }
        if (text.startsWith("\uFEFF")) {
            text = text.substring(1); // a byte order mark some editors write
        }
        try {
            return parse(text);
        } catch (IllegalArgumentException e) {
            throw new CliException(file + ": " + e.getMessage());
        }
    }

    /** The first offset where {@code bytes} stop being UTF-8. */
    private static long offsetOf(byte[] bytes) {
        var decoder = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT);
        ByteBuffer in = ByteBuffer.wrap(bytes);
        var out = java.nio.CharBuffer.allocate(bytes.length + 1);
        decoder.decode(in, out, true);
        return in.position();
    }

    /**
     * Writes maps, lists, arrays of numbers, strings, numbers, booleans and null, indented by two
     * spaces. Non-finite numbers are written as null (JSON has no NaN).
     */
    public static String write(Object value) {
        return WRITER.writeValueAsString(plain(value)) + "\n";
    }

    /** The value with NaN and infinities as null and primitive arrays as lists. */
    static Object plain(Object v) {
        return switch (v) {
            case null -> null;
            case Double d -> Double.isFinite(d) ? d : null;
            case Float f -> Float.isFinite(f) ? f : null;
            case long[] a -> Arrays.stream(a).boxed().toList();
            case int[] a -> Arrays.stream(a).boxed().toList();
            case double[] a -> Arrays.stream(a).boxed().map(Json::plain).toList();
            case boolean[] a -> {
                List<Boolean> out = new ArrayList<>();
                for (boolean b : a) {
                    out.add(b);
                }
                yield out;
            }
            case Map<?, ?> m -> {
                Map<String, Object> out = new LinkedHashMap<>();
                m.forEach((k, x) -> out.put(String.valueOf(k), plain(x)));
                yield out;
            }
            case List<?> l -> {
                List<Object> out = new ArrayList<>();
                l.forEach(x -> out.add(plain(x)));
                yield out;
            }
            default -> v;
        };
    }

    private static String firstLine(String s) {
        if (s == null) {
            return "malformed JSON";
        }
        int nl = s.indexOf('\n');
        return nl < 0 ? s : s.substring(0, nl);
    }
}
