package org.attn4j.opencl;

/** The conformance suite on the tiled kernel in the shape 32x64 (see {@link TiledShapeSuite}). */
class OpenClTiled32x64ConformanceTest extends TiledShapeSuite {
    @Override
    String tiles() {
        return "32x64";
    }
}
