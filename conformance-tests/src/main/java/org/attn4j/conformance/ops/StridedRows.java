package org.attn4j.conformance.ops;

import java.util.SplittableRandom;
import org.attn4j.tensor.DType;
import org.attn4j.conformance.check.SpecFormats;
import org.attn4j.tensor.HostTensor;
import org.attn4j.tensor.Tensor;

/**
 * Where a {@code [rows, heads, D]} view sits in a larger buffer: an element offset, a token
 * stride and a head stride, with the head dim contiguous. The gaps hold a sentinel byte pattern,
 * so a check can see that nothing wrote outside the view. Layouts keep 8-byte alignment (what
 * every backend's vector loads accept); whether they keep 16 is drawn.
 *
 * <p>Immutable and thread-safe.
 *
 * @param offset    elements before element (0, 0, 0)
 * @param tokStride elements from one row to the next
 * @param headStride elements from one head to the next
 */
public record StridedRows(long offset, long tokStride, long headStride) {
    /** The sentinel byte of the gaps. */
    public static final byte SENTINEL = (byte) 0x5A;

    /**
     * A layout for {@code [rows, heads, d]} of {@code dtype}: heads padded by 0 to 3 units and rows
     * by 0 to 3 more, and the view starting 0 to 2 units in, a unit being 8 or 16 bytes.
     *
     * @param rng   the source of randomness
     * @param heads heads per row
     * @param d     the head dim
     * @param dtype the element type, which sets how many elements a unit holds
     * @return a new layout
     */
    public static StridedRows random(SplittableRandom rng, int heads, int d, DType dtype) {
        int unit = Math.max(1, (rng.nextBoolean() ? 16 : 8) / dtype.byteSize());
        long headStride = d + (long) unit * rng.nextInt(4);
        long tokStride = heads * headStride + (long) unit * rng.nextInt(4);
        long offset = (long) unit * rng.nextInt(3);
        return new StridedRows(offset, tokStride, headStride);
    }

    /**
     * Elements the buffer needs: through the view's last element, and 3 more of sentinel after it.
     *
     * @param rows  rows of the view
     * @param heads heads per row
     * @param d     the head dim
     * @return the buffer's element count
     */
    public long extent(long rows, long heads, long d) {
        return offset + Math.max(0, rows - 1) * tokStride + Math.max(0, heads - 1) * headStride + d + 3;
    }

    /**
     * Where a row's head starts in the buffer.
     *
     * @param row  a row of the view
     * @param head a head of the row
     * @return the element index of its element 0
     */
    public long at(long row, long head) {
        return offset + row * tokStride + head * headStride;
    }

    /**
     * A buffer of sentinel bytes with {@code values} ({@code [rows, heads, d]}) placed, uploaded; and the view.
     *
     * @param s      the scope that owns the buffer
     * @param dtype  the element type; values are rounded to it
     * @param values the view's elements, {@code [rows, heads, d]} row-major
     * @param rows   rows of the view
     * @param heads  heads per row
     * @param d      the head dim
     * @return the strided view over the uploaded buffer
     */
    public Tensor upload(DeviceScope s, DType dtype, float[] values, int rows, int heads, int d) {
        Tensor base = s.upload(host(dtype, values, rows, heads, d));
        return view(base, rows, heads, d);
    }

    /**
     * The host buffer {@link #upload} sends.
     *
     * @param dtype  the element type; values are rounded to it
     * @param values the view's elements, {@code [rows, heads, d]} row-major
     * @param rows   rows of the view
     * @param heads  heads per row
     * @param d      the head dim
     * @return a one-dimensional buffer of {@link #extent} elements, which the caller closes
     */
    public HostTensor host(DType dtype, float[] values, int rows, int heads, int d) {
        HostTensor h = HostTensor.allocate(dtype, extent(rows, heads, d));
        h.fillBytes(SENTINEL);
        for (int r = 0; r < rows; r++) {
            for (int h0 = 0; h0 < heads; h0++) {
                for (int x = 0; x < d; x++) {
                    h.setBits(at(r, h0) + x, SpecFormats.encode(dtype, values[(r * heads + h0) * d + x]));
                }
            }
        }
        return h;
    }

    /**
     * The {@code [rows, heads, d]} view of this layout over a buffer.
     *
     * @param base  a buffer of at least {@link #extent} elements
     * @param rows  rows of the view
     * @param heads heads per row
     * @param d     the head dim
     * @return the view, which shares the buffer's memory
     */
    public Tensor view(Tensor base, int rows, int heads, int d) {
        return base.view(offset, new long[] {rows, heads, d}, new long[] {tokStride, headStride, 1});
    }

    /**
     * The view's values from a downloaded buffer.
     *
     * @param buffer the whole buffer, downloaded
     * @param rows   rows of the view
     * @param heads  heads per row
     * @param d      the head dim
     * @return the view's elements, {@code [rows, heads, d]} row-major
     */
    public float[] gather(HostTensor buffer, int rows, int heads, int d) {
        float[] out = new float[rows * heads * d];
        for (int r = 0; r < rows; r++) {
            for (int h0 = 0; h0 < heads; h0++) {
                for (int x = 0; x < d; x++) {
                    out[(r * heads + h0) * d + x] = SpecFormats.value(buffer.dtype(), buffer.getBits(at(r, h0) + x));
                }
            }
        }
        return out;
    }

    /**
     * Throws when a byte outside the view's elements no longer holds the sentinel.
     *
     * @param what   names the tensor in the message
     * @param buffer the whole buffer, downloaded after the call that wrote the view
     * @param rows   rows of the view
     * @param heads  heads per row
     * @param d      the head dim
     * @throws AssertionError naming the first element outside the view that was written
     */
    public void checkGaps(String what, HostTensor buffer, int rows, int heads, int d) {
        boolean[] inside = new boolean[(int) buffer.elementCount()];
        for (int r = 0; r < rows; r++) {
            for (int h0 = 0; h0 < heads; h0++) {
                for (int x = 0; x < d; x++) {
                    inside[(int) (at(r, h0) + x)] = true;
                }
            }
        }
        int es = buffer.dtype().byteSize();
        for (int i = 0; i < inside.length; i++) {
            if (inside[i]) {
                continue;
            }
            int bits = buffer.getBits(i);
            int expected = es == 1 ? 0x5A : es == 2 ? 0x5A5A : 0x5A5A5A5A;
            if (bits != expected) {
                throw new AssertionError(what + ": element " + i + " outside the view " + this + " was written (bits 0x"
                        + Integer.toHexString(bits) + ")");
            }
        }
    }
}
