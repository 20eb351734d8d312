package org.attn4j.opencl;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.module.ModuleDescriptor;
import java.lang.module.ModuleFinder;
import java.net.URISyntaxException;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/** An engine on the module path reaches OpenClInterop and the JOCL types in its signatures. */
class ModuleExportsTest {
    @Test
    void interopIsExportedWithJOCL() throws URISyntaxException {
        // The module this class was compiled into, read from its classes directory or jar.
        Path where = Path.of(OpenClInterop.class.getProtectionDomain().getCodeSource().getLocation().toURI());
        ModuleDescriptor d = ModuleFinder.of(where).findAll().iterator().next().descriptor();
        assertTrue(d.exports().stream().anyMatch(e -> e.source().equals("org.attn4j.opencl") && !e.isQualified()),
                "org.attn4j.opencl is not exported: " + d.exports());
        assertTrue(d.requires().stream().anyMatch(r -> r.name().equals("jocl")
                && r.modifiers().contains(ModuleDescriptor.Requires.Modifier.TRANSITIVE)), d.requires().toString());
    }
}
