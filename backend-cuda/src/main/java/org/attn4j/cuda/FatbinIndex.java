package org.attn4j.cuda;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;

/**
 * The table of contents of an nvcc fatbin: which machine code (ELF) and PTX it carries, for which
 * architectures. Read from the container's headers: a 16-byte header (magic {@code 0xBA55ED50},
 * version, header size, payload size) then entries, each with its kind (1 PTX, 2 ELF) at 0,
 * header size at 4, payload size at 8, architecture at 28 and flags at 40.
 */
record FatbinIndex(List<Entry> entries) {
    static final int MAGIC = 0xBA55ED50;
    /** Entry flag nvcc sets on arch-specific ("a") targets such as sm_90a. */
    static final long ARCH_SPECIFIC_FLAG = 0x100000L;

    /**
     * @param ptx  PTX (true) or machine code
     * @param arch compute capability times ten (90 for sm_90)
     * @param archSpecific built for the "a" variant
     */
    record Entry(boolean ptx, int arch, boolean archSpecific) {
        String name() {
            return (ptx ? "compute_" : "sm_") + arch + (archSpecific ? "a" : "");
        }
    }

    static FatbinIndex parse(byte[] image) {
        ByteBuffer b = ByteBuffer.wrap(image).order(ByteOrder.LITTLE_ENDIAN);
        if (image.length < 16 || b.getInt(0) != MAGIC) {
            throw new IllegalArgumentException("not a fatbin: no magic 0xBA55ED50 at offset 0");
        }
        int headerSize = Short.toUnsignedInt(b.getShort(6));
        long end = headerSize + b.getLong(8);
        List<Entry> out = new ArrayList<>();
        long off = headerSize;
        while (off + 48 <= Math.min(end, image.length)) {
            int at = (int) off;
            int kind = Short.toUnsignedInt(b.getShort(at));
            long entryHeader = Integer.toUnsignedLong(b.getInt(at + 4));
            long payload = b.getLong(at + 8);
            int arch = b.getInt(at + 28);
            long flags = b.getLong(at + 40);
            out.add(new Entry(kind == 1, arch, (flags & ARCH_SPECIFIC_FLAG) != 0));
            off += entryHeader + payload;
        }
        return new FatbinIndex(List.copyOf(out));
    }

    boolean hasMachineCode(int arch, boolean archSpecific) {
        return entries.stream().anyMatch(e -> !e.ptx() && e.arch() == arch && e.archSpecific() == archSpecific);
    }

    boolean hasPtx(int arch) {
        return entries.stream().anyMatch(e -> e.ptx() && e.arch() == arch);
    }

    @Override
    public String toString() {
        return entries.stream().map(Entry::name).toList().toString();
    }
}
