package org.attn4j.opencl;

/** The conformance suite on the tiled kernel in the shape 64x64/8 (see {@link TiledShapeSuite}). */
class OpenClTiled64x64r8ConformanceTest extends TiledShapeSuite {
    @Override
    String tiles() {
        return "64x64/8";
    }
}
