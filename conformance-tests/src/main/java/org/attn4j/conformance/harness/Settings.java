package org.attn4j.conformance.harness;

/**
 * The run's master seed and cases per property, from {@code -Dattn4j.seed} (decimal or 0x hex;
 * unset or {@code random}: a fresh seed, printed) and {@code -Dattn4j.cases} (0 or unset:
 * {@link #DEFAULT_CASES}). The build passes a fixed seed so CI is repeatable; exploring runs
 * pass {@code -Dattn4j.seed=random}.
 *
 * <p>Immutable and thread-safe.
 *
 * @param seed      the master seed every case's seed derives from
 * @param cases     random cases per property, after its edge cases; positive
 * @param seedGiven whether the seed was given rather than drawn fresh
 */
public record Settings(long seed, int cases, boolean seedGiven) {
    /** Small enough that the reference backend runs the whole suite in well under three minutes on two cores. */
    public static final int DEFAULT_CASES = 100;

    /**
     * The settings {@code -Dattn4j.seed} and {@code -Dattn4j.cases} ask for.
     *
     * @return new settings, a fresh seed when none is given
     * @throws NumberFormatException if either property is set to something other than a number
     *                               (or {@code random} for the seed)
     */
    public static Settings fromSystemProperties() {
        String s = System.getProperty("attn4j.seed", "").trim();
        long seed;
        boolean given = !s.isEmpty() && !s.equalsIgnoreCase("random");
        if (given) {
            seed = s.startsWith("0x") || s.startsWith("0X") ? Long.parseUnsignedLong(s.substring(2), 16)
                    : Long.parseLong(s);
        } else {
            seed = new java.util.SplittableRandom().nextLong();
        }
        String c = System.getProperty("attn4j.cases", "").trim();
        int cases = c.isEmpty() ? 0 : Integer.parseInt(c);
        return new Settings(seed, cases <= 0 ? DEFAULT_CASES : cases, given);
    }

    /**
     * These settings with another number of cases per property.
     *
     * @param n random cases per property, positive
     * @return new settings, the same seed
     */
    public Settings withCases(int n) {
        return new Settings(seed, n, seedGiven);
    }

    /**
     * The master seed as {@code -Dattn4j.seed} takes it back.
     *
     * @return {@code 0x} and the seed's unsigned hex digits
     */
    public String seedText() {
        return "0x" + Long.toHexString(seed);
    }

    /**
     * A seed for one property's case {@code index}, so a case is reproducible from the master seed and its id.
     *
     * @param property the property's key
     * @param index    the case's index among all the property's cases, edge cases included
     * @return the seed of that case's random source
     */
    public long caseSeed(String property, int index) {
        long h = seed ^ (property.hashCode() * 0x9E3779B97F4A7C15L);
        return mix(h + index * 0xBF58476D1CE4E5B9L);
    }

    /**
     * A seed for one property's edge cases.
     *
     * @param property the property's key
     * @return the seed of the random source its edge cases draw from
     */
    public long propertySeed(String property) {
        return mix(seed ^ (property.hashCode() * 0x94D049BB133111EBL));
    }

    private static long mix(long z) {
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }
}
