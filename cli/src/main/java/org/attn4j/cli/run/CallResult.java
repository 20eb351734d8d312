package org.attn4j.cli.run;

/** What a call produced: o's dtype name and shape, and the time of the call itself. */
record CallResult(String oDtype, long[] oShape, double millis) {}
