package org.attn4j.opencl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** The tiled kernel's shapes: what the chooser picks, what the option forces, what fits. */
class TileConfigTest {
    private static final long LOCAL = 48 << 10;

    @Test
    void everyChoiceIsAnAcceptedShapeThatFits() {
        for (int d = 8; d <= 256; d += 8) {
            for (int items : new int[] {1, 4, 16, 17, 33, 64, 1000}) {
                for (long maxWg : new long[] {32, 64, 128, 256, 1024}) {
                    TileConfig c = TileConfig.choose(d, items, LOCAL, maxWg, false);
                    assertTrue(TileConfig.Shape.ALL.contains(c.shape()), c.describe());
                    assertTrue(c.wg() <= maxWg, c.describe());
                    assertTrue(c.localBytes() <= TileConfig.LOCAL_BUDGET, c.describe());
                    assertTrue(c.columnsFit() || maxWg < 64, c.describe());
                    assertTrue(c.valueChunk() * c.dmax() <= (c.tm() + c.tn()) * (TileConfig.CHUNK + 4), c.describe());
                    assertEquals(0, c.tn() % c.valueChunk());
                }
            }
        }
    }

    @Test
    void prefillGetsTheLargestTileAndFewItemsTheSmallest() {
        TileConfig big = TileConfig.choose(128, TileConfig.MAX_TM, LOCAL, 1024, false);
        assertEquals(new TileConfig.Shape(64, 64, 4), big.shape());
        // Eight items' columns at head dim 256 would pass the register budget: the forced 64x64/8
        // gives way to the first shape that fits.
        assertEquals(new TileConfig.Shape(64, 64, 4),
                TileConfig.choose(256, 64, LOCAL, 1024, false, new TileConfig.Shape(64, 64, 8)).shape());
        TileConfig few = TileConfig.choose(128, 4, LOCAL, 1024, false);
        assertEquals(16, few.tm());
    }

    @Test
    void forcedShapeIsUsedWhereItFits() {
        for (TileConfig.Shape s : TileConfig.Shape.ALL) {
            for (int d : new int[] {32, 64, 96, 128, 256}) {
                TileConfig c = TileConfig.choose(d, TileConfig.MAX_TM, LOCAL, 1024, false, s);
                TileConfig asked = TileConfig.tiled(c.dmax(), s);
                if (asked.columnsFit()) {
                    assertEquals(s, c.shape(), "D " + d);
                } else {
                    assertTrue(c.columnsFit(), "D " + d + ": " + c.describe());
                }
            }
        }
    }

    @Test
    void optionNamesAShapeOrAuto() {
        assertEquals(new TileConfig.Shape(32, 64, 4), TileConfig.Shape.parse(" 32X64 "));
        assertEquals(new TileConfig.Shape(64, 64, 8), TileConfig.Shape.parse("64x64/8"));
        assertEquals("64x64/8", new TileConfig.Shape(64, 64, 8).toString());
        assertThrows(IllegalArgumentException.class, () -> TileConfig.Shape.parse("32x64/8"));
        assertNull(TileConfig.Shape.parse("auto"));
        assertNull(TileConfig.Shape.parse(null));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> TileConfig.Shape.parse("48x64"));
        assertTrue(e.getMessage().contains("48x64") && e.getMessage().contains("64x64"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> TileConfig.Shape.parse("big"));
    }

    @Test
    void smallerKeepsTheItems() {
        TileConfig c = TileConfig.tiled(128, 16, 64).smaller();
        assertEquals(16, c.tm());
        assertEquals(32, c.tn());
        assertNull(TileConfig.tiled(128, 64, 64).smaller());
    }
}
