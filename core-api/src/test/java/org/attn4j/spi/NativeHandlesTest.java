package org.attn4j.spi;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/** Made-up handles are refused before a driver dereferences them; real addresses pass and read back. */
class NativeHandlesTest {
    @Test
    void nullAndMisalignedValuesAreNoObjects() {
        assertEquals("is a null handle", NativeHandles.whyNotAnObject(0));
        assertTrue(NativeHandles.whyNotAnObject(12345).contains("0x3039 is not aligned to 8 bytes"));
        assertTrue(NativeHandles.whyNotAnObject(-8) != null);
    }

    @Test
    void unmappedAddressesAreRefusedAndMappedOnesRead() {
        assumeTrue(Files.isReadable(Path.of("/proc/self/mem")), "no /proc/self/mem on this system");
        // Below mmap_min_addr nothing is ever mapped.
        assertTrue(NativeHandles.whyNotAnObject(0x8000).contains("points to no memory of this process"));
        assertTrue(NativeHandles.wordAt(0x8000).isEmpty());
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment s = arena.allocate(16, 8);
            s.set(ValueLayout.JAVA_LONG_UNALIGNED, 0, 0x1122334455667788L);
            assertNull(NativeHandles.whyNotAnObject(s.address()));
            assertEquals(0x1122334455667788L, NativeHandles.wordAt(s.address()).orElseThrow());
            // Readable, but its first word points nowhere: no OpenCL object.
            String why = NativeHandles.whyNotAnOpenClObject(s.address());
            assertNotNull(why);
            assertTrue(why.contains("dispatch table"), why);
            // A first word that points to mapped memory passes the OpenCL test.
            s.set(ValueLayout.JAVA_LONG_UNALIGNED, 0, s.address() + 8);
            assertNull(NativeHandles.whyNotAnOpenClObject(s.address()));
            // An interrupted caller neither fails the check nor breaks it for later ones.
            Thread.currentThread().interrupt();
            try {
                assertNull(NativeHandles.whyNotAnOpenClObject(s.address()));
            } finally {
                Thread.interrupted();
            }
            assertNull(NativeHandles.whyNotAnOpenClObject(s.address()));
        }
    }
}
