package org.attn4j.kv;

/** Order of a KV page's axes. Immutable and thread-safe. */
public enum KvLayout {
    /** {@code [numPages, pageSize, Hkv, D]}: a token's heads adjacent. */
    NHD,
    /** {@code [numPages, Hkv, pageSize, D]}: a head's tokens adjacent. */
    HND
}
