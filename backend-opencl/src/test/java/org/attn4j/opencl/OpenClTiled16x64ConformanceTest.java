package org.attn4j.opencl;

/** The conformance suite on the tiled kernel in the shape 16x64 (see {@link TiledShapeSuite}). */
class OpenClTiled16x64ConformanceTest extends TiledShapeSuite {
    @Override
    String tiles() {
        return "16x64";
    }
}
