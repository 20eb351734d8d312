package org.attn4j.cuda;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.module.ModuleDescriptor;
import java.lang.module.ModuleFinder;
import java.net.URISyntaxException;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/** An engine on the module path reaches CudaInterop and the JCuda types in its signatures. */
class ModuleExportsTest {
    @Test
    void interopIsExportedWithJCuda() throws URISyntaxException {
        // The module this class was compiled into, read from its classes directory or jar.
        Path where = Path.of(CudaInterop.class.getProtectionDomain().getCodeSource().getLocation().toURI());
        ModuleDescriptor d = ModuleFinder.of(where).findAll().iterator().next().descriptor();
        assertTrue(d.exports().stream().anyMatch(e -> e.source().equals("org.attn4j.cuda") && !e.isQualified()),
                "org.attn4j.cuda is not exported: " + d.exports());
        assertTrue(d.requires().stream().anyMatch(r -> r.name().equals("jcuda")
                && r.modifiers().contains(ModuleDescriptor.Requires.Modifier.TRANSITIVE)), d.requires().toString());
    }
}
