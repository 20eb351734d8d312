package org.attn4j.opencl;

/** The conformance suite on the tiled kernel in the shape 64x64 (see {@link TiledShapeSuite}). */
class OpenClTiled64x64ConformanceTest extends TiledShapeSuite {
    @Override
    String tiles() {
        return "64x64";
    }
}
