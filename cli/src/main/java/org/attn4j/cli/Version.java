package org.attn4j.cli;

import java.io.IOException;
import java.io.InputStream;
import java.util.Properties;
import picocli.CommandLine.IVersionProvider;

/**
 * {@code attn4j --version}: the version from the jar's manifest, else from the build's version
 * resource (present in classes Maven compiled), else says it is unknown.
 */
public final class Version implements IVersionProvider {
    /** The project version, or null when neither the manifest nor the build resource has it. */
    public static String projectVersion() {
        String v = Version.class.getPackage().getImplementationVersion();
        if (v != null && !v.isBlank()) {
            return v;
        }
        try (InputStream in = Version.class.getResourceAsStream("version.properties")) {
            if (in != null) {
                Properties p = new Properties();
                p.load(in);
                String s = p.getProperty("version");
                if (s != null && !s.isBlank() && !s.startsWith("${")) {
                    return s.strip();
                }
            }
        } catch (IOException e) {
            return null;
        }
        return null;
    }

    @Override
    public String[] getVersion() {
        String v = projectVersion();
        return new String[] {
            "attn4j " + (v == null ? "(version unknown: classes not built by Maven)" : v),
            "Java " + Runtime.version() + " (" + System.getProperty("java.vendor", "?") + "), "
                    + System.getProperty("os.name") + " " + System.getProperty("os.arch")
        };
    }
}
