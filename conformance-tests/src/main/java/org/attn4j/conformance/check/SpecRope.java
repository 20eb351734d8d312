package org.attn4j.conformance.check;

/**
 * spec §3's rotary embedding written out for the suite alone, from the parameters a case names
 * (never from core-api's {@code RopeOptions} arithmetic). With {@code R} the rotary dim ({@code D}
 * unless a partial one is given): {@code freq_d = (1 / ropeScale) * theta^(-2d / R)} for
 * {@code d < R/2}, optionally rescaled as Llama 3.1 does, and the rotation of each pair by
 * {@code pos * freq_d}: pairs {@code (d, d + R/2)} ("rotate half") or {@code (2d, 2d + 1)}
 * (interleaved); dims from {@code R} on are copied. Positions may be negative (rows of a
 * non-causal prefill with more query rows than keys): the angle is negative, as the formula says.
 *
 * <p>Immutable and thread-safe.
 *
 * @param interleaved pairs {@code (2d, 2d + 1)} instead of {@code (d, d + R/2)}
 * @param theta       base
 * @param scale       {@code ropeScale}: frequencies are divided by it
 * @param llama31     Llama 3.1's rescaling, or null
 * @param rotaryDim   {@code R}, the leading dims rotated; 0 for the whole head
 */
public record SpecRope(boolean interleaved, double theta, double scale, Llama31 llama31, int rotaryDim) {

    /**
     * Llama 3.1's frequency rescaling (Meta's reference {@code apply_scaling}): with
     * {@code lowWavelen = originalMaxPosition / lowFreqFactor} and
     * {@code highWavelen = originalMaxPosition / highFreqFactor}, a frequency whose wavelength
     * {@code 2 pi / freq} is below {@code highWavelen} stays, one above {@code lowWavelen} is
     * divided by {@code factor}, and one between is blended:
     * {@code smooth = (originalMaxPosition / wavelen - lowFreqFactor) / (highFreqFactor - lowFreqFactor)},
     * {@code freq' = (1 - smooth) * freq / factor + smooth * freq}.
     *
     * <p>Immutable and thread-safe.
     *
     * @param factor              what low frequencies are divided by
     * @param lowFreqFactor       sets {@code lowWavelen}, the wavelength above which frequencies are divided
     * @param highFreqFactor      sets {@code highWavelen}, the wavelength below which frequencies stay;
     *                            greater than {@code lowFreqFactor}
     * @param originalMaxPosition the context length the model was trained on, in tokens
     */
    public record Llama31(double factor, double lowFreqFactor, double highFreqFactor, double originalMaxPosition) {
        /** spec §3's defaults: 8, 1, 4, 8192. */
        public static final Llama31 DEFAULT = new Llama31(8, 1, 4, 8192);

        double apply(double freq) {
            double wavelen = 2 * Math.PI / freq;
            double lowWavelen = originalMaxPosition / lowFreqFactor;
            double highWavelen = originalMaxPosition / highFreqFactor;
            if (wavelen < highWavelen) {
                return freq;
            }
            if (wavelen > lowWavelen) {
                return freq / factor;
            }
            double smooth = (originalMaxPosition / wavelen - lowFreqFactor) / (highFreqFactor - lowFreqFactor);
            return (1 - smooth) * freq / factor + smooth * freq;
        }
    }

    /**
     * Checks the parameters.
     *
     * @throws IllegalArgumentException if {@code llama31} is given with a {@code scale} other than 1,
     *         or the rotary dim is negative or odd
     */
    public SpecRope {
        if (llama31 != null && scale != 1) {
            // the contract rejects a ropeScale other than 1 together with Llama 3.1 scaling
            throw new IllegalArgumentException("Llama 3.1 scaling is defined for ropeScale 1, not " + scale);
        }
        if (rotaryDim < 0 || rotaryDim % 2 != 0) {
            throw new IllegalArgumentException("a rotary dim is 0 or even and positive, not " + rotaryDim);
        }
    }

    /**
     * A rotation of the whole head.
     *
     * @param interleaved pairs {@code (2d, 2d + 1)} instead of {@code (d, d + D/2)}
     * @param theta       base
     * @param scale       {@code ropeScale}: frequencies are divided by it
     * @param llama31     Llama 3.1's rescaling, or null
     */
    public SpecRope(boolean interleaved, double theta, double scale, Llama31 llama31) {
        this(interleaved, theta, scale, llama31, 0);
    }

    /**
     * {@code R} for a head of {@code headDim} dims.
     *
     * @param headDim {@code D}
     * @return the rotary dim, or {@code D} when it is 0
     */
    public int rotated(int headDim) {
        if (rotaryDim > headDim) {
            throw new IllegalArgumentException("rotary dim " + rotaryDim + " exceeds the head dim " + headDim);
        }
        return rotaryDim == 0 ? headDim : rotaryDim;
    }

    /**
     * {@code freq_d} for {@code d < R/2}, in radians per position.
     *
     * @param headDim {@code D}, even
     * @return {@code R/2} frequencies
     */
    public double[] frequencyTable(int headDim) {
        int r = rotated(headDim);
        double[] f = new double[r / 2];
        for (int d = 0; d < f.length; d++) {
            double freq = Math.pow(theta, -2.0 * d / r) / scale;
            f[d] = llama31 == null ? freq : llama31.apply(freq);
        }
        return f;
    }

    /**
     * The index pair rotated together as pair {@code d}.
     *
     * @param d       a pair, {@code 0 <= d < R/2}
     * @param headDim {@code D}
     * @return {@code {a, b}}, indices into a head vector
     */
    public int[] pair(int d, int headDim) {
        return interleaved ? new int[] {2 * d, 2 * d + 1} : new int[] {d, d + rotated(headDim) / 2};
    }

    /**
     * One head vector rotated to position {@code pos}: for each pair {@code (a, b)},
     * {@code x'_a = x_a cos - x_b sin}, {@code x'_b = x_b cos + x_a sin}; dims from {@code R} on
     * are copied.
     *
     * @param x    the head vector, of {@code D} elements
     * @param pos  the position, possibly negative
     * @param freq {@link #frequencyTable} for {@code D}
     * @return the rotated vector; {@code x} is unchanged
     */
    public double[] rotate(double[] x, long pos, double[] freq) {
        int headDim = x.length;
        double[] y = x.clone();
        int pairs = rotated(headDim) / 2;
        for (int d = 0; d < pairs; d++) {
            int[] p = pair(d, headDim);
            double angle = pos * freq[d];
            double cos = Math.cos(angle);
            double sin = Math.sin(angle);
            y[p[0]] = x[p[0]] * cos - x[p[1]] * sin;
            y[p[1]] = x[p[1]] * cos + x[p[0]] * sin;
        }
        return y;
    }
}
