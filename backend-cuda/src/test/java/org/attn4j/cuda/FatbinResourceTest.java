package org.attn4j.cuda;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import org.junit.jupiter.api.Test;

/** The fatbin the build embedded carries Hopper machine code, Ampere machine code and PTX for newer GPUs. */
class FatbinResourceTest {
    @Test
    void embeddedFatbinHoldsSm90aSm80AndPtx() {
        assumeTrue(CudaKernels.present(), "built without nvcc: no fatbin resource " + CudaKernels.RESOURCE);
        FatbinIndex index = FatbinIndex.parse(CudaKernels.image());
        assertTrue(index.hasMachineCode(90, true), "no sm_90a machine code in " + index);
        assertTrue(index.hasMachineCode(80, false), "no sm_80 machine code in " + index);
        assertTrue(index.hasPtx(90), "no compute_90 PTX in " + index);
        assertTrue(!index.hasMachineCode(90, false), "plain sm_90 code where sm_90a was asked: " + index);
    }

    @Test
    void rejectsWhatIsNotAFatbin() {
        assertThrows(IllegalArgumentException.class, () -> FatbinIndex.parse(new byte[64]));
    }
}
