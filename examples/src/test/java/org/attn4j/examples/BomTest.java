package org.attn4j.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;
import javax.xml.parsers.DocumentBuilderFactory;
import org.junit.jupiter.api.Test;
import org.w3c.dom.Document;
import org.w3c.dom.Element;
import org.w3c.dom.Node;
import org.w3c.dom.NodeList;

/**
 * The BOM has no parent (so that importing it manages nothing but attn4j), hence its own version:
 * it must be the project's, and it must list every published module.
 */
class BomTest {
    /** Modules of the build that are not published as jars. */
    private static final List<String> UNPUBLISHED = List.of("bom", "examples");

    private static Document read(Path pom) throws Exception {
        DocumentBuilderFactory f = DocumentBuilderFactory.newInstance();
        f.setNamespaceAware(false);
        return f.newDocumentBuilder().parse(pom.toFile());
    }

    /** Text of the direct child {@code name} of {@code parent}. */
    private static String child(Element parent, String name) {
        for (Node n = parent.getFirstChild(); n != null; n = n.getNextSibling()) {
            if (n instanceof Element e && e.getTagName().equals(name)) {
                return e.getTextContent().strip();
            }
        }
        return null;
    }

    @Test
    void bomVersionIsTheProjectsAndItListsEveryPublishedModule() throws Exception {
        Path root = DocSnippetsTest.docsRoot();
        Element parent = read(root.resolve("pom.xml")).getDocumentElement();
        Element bom = read(root.resolve("bom/pom.xml")).getDocumentElement();
        assertEquals(child(parent, "version"), child(bom, "version"), "bom/pom.xml's version");
        assertEquals(child(parent, "groupId"), child(bom, "groupId"), "bom/pom.xml's groupId");

        TreeSet<String> published = new TreeSet<>();
        NodeList modules = parent.getElementsByTagName("module");
        for (int i = 0; i < modules.getLength(); i++) {
            String module = modules.item(i).getTextContent().strip();
            if (!UNPUBLISHED.contains(module)) {
                published.add(child(read(root.resolve(module).resolve("pom.xml")).getDocumentElement(), "artifactId"));
            }
        }
        TreeSet<String> listed = new TreeSet<>();
        NodeList deps = bom.getElementsByTagName("dependency");
        List<String> badVersions = new ArrayList<>();
        for (int i = 0; i < deps.getLength(); i++) {
            Element d = (Element) deps.item(i);
            listed.add(child(d, "artifactId"));
            if (!"${project.version}".equals(child(d, "version"))) {
                badVersions.add(child(d, "artifactId") + " " + child(d, "version"));
            }
        }
        assertEquals(published, listed, "bom/pom.xml's dependencyManagement against the published modules");
        assertEquals(List.of(), badVersions, "BOM entries not at ${project.version}");
    }
}
