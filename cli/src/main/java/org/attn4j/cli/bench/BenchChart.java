package org.attn4j.cli.bench;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import javax.imageio.ImageIO;

/**
 * A headless PNG: one group of horizontal bars per workload, one bar per backend or peer,
 * length = % of the ceiling (or of the group's best rate when there is no ceiling).
 */
final class BenchChart {
    private static final Color[] PALETTE = {new Color(0x1f77b4), new Color(0xff7f0e), new Color(0x2ca02c),
        new Color(0xd62728), new Color(0x9467bd), new Color(0x8c564b), new Color(0xe377c2), new Color(0x7f7f7f)};
    private static final int BAR = 18;
    private static final int GAP = 14;
    private static final int LEFT = 200;
    private static final int WIDTH = 1100;

    private BenchChart() {}

    static void write(List<BenchRow> rows, Path file) throws IOException {
        Map<String, List<BenchRow>> groups = new LinkedHashMap<>();
        for (BenchRow r : rows) {
            groups.computeIfAbsent(r.workload(), k -> new ArrayList<>()).add(r);
        }
        List<String> backends = rows.stream().map(BenchRow::backend).distinct().toList();
        int height = 60 + rows.size() * (BAR + 4) + groups.size() * GAP + 30;
        BufferedImage img = new BufferedImage(WIDTH, height, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = img.createGraphics();
        g.setColor(Color.WHITE);
        g.fillRect(0, 0, WIDTH, height);
        g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
        boolean text = trySetFont(g);
        int plotWidth = WIDTH - LEFT - 340;
        if (text) {
            g.setColor(Color.BLACK);
            g.drawString("attn4j bench: % of ceiling (decode: TB/s vs bandwidth, prefill: TFLOP/s vs bf16 matrix rate)",
                    10, 22);
        }
        int y = 40;
        for (Map.Entry<String, List<BenchRow>> e : groups.entrySet()) {
            double best = e.getValue().stream().mapToDouble(BenchRow::rate).max().orElse(1);
            if (text) {
                g.setColor(Color.BLACK);
                g.drawString(e.getKey(), 10, y + BAR - 4);
            }
            for (BenchRow r : e.getValue()) {
                boolean hasCeiling = !Double.isNaN(r.pctCeiling());
                double pct = hasCeiling ? r.pctCeiling() : 100.0 * r.rate() / best;
                int len = (int) Math.round(Math.max(0, Math.min(110, pct)) / 110.0 * plotWidth);
                g.setColor(PALETTE[backends.indexOf(r.backend()) % PALETTE.length]);
                g.fillRect(LEFT, y, Math.max(1, len), BAR);
                if (text) {
                    g.setColor(Color.DARK_GRAY);
                    String label = String.format(Locale.ROOT, "%s  %.1f us  %.3g %s%s", r.backend(), r.medianUs(),
                            r.rate(), r.metric(), hasCeiling ? String.format(Locale.ROOT, "  %.0f%%", pct)
                                    : "  (" + Math.round(pct) + "% of best)");
                    g.drawString(label, LEFT + Math.max(1, len) + 6, y + BAR - 4);
                }
                y += BAR + 4;
            }
            y += GAP;
        }
        // the 100% line
        g.setColor(Color.GRAY);
        g.setStroke(new BasicStroke(1f, BasicStroke.CAP_BUTT, BasicStroke.JOIN_MITER, 1f, new float[] {4f, 4f}, 0f));
        int x100 = LEFT + (int) Math.round(100 / 110.0 * plotWidth);
        g.drawLine(x100, 32, x100, y);
        g.dispose();
        ImageIO.write(img, "png", file.toFile());
    }

    /** False on hosts without usable fonts: the bars are still drawn. */
    private static boolean trySetFont(Graphics2D g) {
        try {
            g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 12));
            g.getFontMetrics().stringWidth("attn4j");
            return true;
        } catch (Throwable t) {
            return false;
        }
    }
}
