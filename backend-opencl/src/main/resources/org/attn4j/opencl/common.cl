// Element formats of attn4j (spec §1) in OpenCL C 1.2 without cl_khr_fp16: F16 through
// vload_half/vstore_half, BF16 and FP8 through bit operations; all arithmetic in float.
// Type codes (match OpenClTypes): 0 F32, 1 F16, 2 BF16, 3 FP8_E4M3, 4 FP8_E5M2.

inline float bf16_to_float(ushort b) { return as_float(((uint) b) << 16); }

inline ushort float_to_bf16(float x) {
    uint u = as_uint(x);
    if (isnan(x)) {
        return (ushort) (((u >> 16) & 0x8000u) | 0x7FC0u);
    }
    return (ushort) ((u + 0x7FFFu + ((u >> 16) & 1u)) >> 16);
}

// Half bits to float by bit operations (for e5m2, which is the upper byte of a half).
inline float half_bits_to_float(uint h) {
    uint sign = (h & 0x8000u) << 16;
    uint e = (h >> 10) & 0x1Fu;
    uint m = h & 0x3FFu;
    float v;
    if (e == 0u) {
        v = (float) m * 5.9604644775390625e-8f; // m * 2^-24
    } else if (e == 31u) {
        v = m == 0u ? INFINITY : NAN;
    } else {
        v = as_float(((e + 112u) << 23) | (m << 13));
    }
    return as_float(as_uint(v) | sign);
}

inline float e4m3_to_float(uchar b) {
    uint sign = ((uint) b & 0x80u) << 24;
    uint e = ((uint) b >> 3) & 0xFu;
    uint m = (uint) b & 7u;
    float v;
    if (e == 15u && m == 7u) {
        v = NAN;
    } else if (e == 0u) {
        v = (float) m * 0.001953125f; // m * 2^-9
    } else {
        v = as_float(((e + 120u) << 23) | (m << 20));
    }
    return as_float(as_uint(v) | sign);
}

inline float e5m2_to_float(uchar b) { return half_bits_to_float(((uint) b) << 8); }

// Round to nearest even and saturate to the finite range, NaN kept (as core-api Numerics).
// x may be a rounded quotient: dir (sign of true |value| - |x|) settles a tie that rounding to
// float created, so the result equals rounding the exact value once.
inline uchar float_to_fp8(float x, float dir, int mbits, int bias, float maxFinite, uint maxCode, uint nanCode) {
    uint sign = (as_uint(x) >> 31) << 7;
    if (isnan(x)) {
        return (uchar) (sign | nanCode);
    }
    float a = fabs(x);
    if (a >= maxFinite) {
        return (uchar) (sign | maxCode);
    }
    if (a == 0.0f) {
        return (uchar) sign;
    }
    int e = max(ilogb(a), 1 - bias);
    float quantum = ldexp(1.0f, e - mbits);
    float exact = a / quantum;
    float m = rint(exact);
    if (dir != 0.0f && exact - floor(exact) == 0.5f) {
        m = dir > 0.0f ? floor(exact) + 1.0f : floor(exact);
    }
    if (m >= (float) (1 << (mbits + 1))) {
        e++;
        m *= 0.5f;
    }
    if (m * ldexp(1.0f, e - mbits) > maxFinite) {
        return (uchar) (sign | maxCode);
    }
    uint mi = (uint) m;
    uint implicitBit = 1u << mbits;
    if (mi < implicitBit) {
        return (uchar) (sign | mi);
    }
    return (uchar) (sign | ((uint) (e + bias) << mbits) | (mi - implicitBit));
}

inline uchar float_to_e4m3(float x) { return float_to_fp8(x, 0.0f, 3, 7, 448.0f, 0x7Eu, 0x7Fu); }
inline uchar float_to_e5m2(float x) { return float_to_fp8(x, 0.0f, 2, 15, 57344.0f, 0x7Bu, 0x7Eu); }

// x / scale rounded once to FP8: the float quotient's residual (exact through fma) breaks ties.
// A NaN skips the division: GPUs return a canonical, positive NaN from arithmetic on one, and
// the cache keeps the input NaN's sign (spec §1).
inline float quotient(float x, float scale) {
    return isnan(x) ? x : x / scale;
}
inline float quotient_direction(float x, float scale, float q) {
    float r = fma(-q, scale, x); // x - q * scale, exactly
    float s = q < 0.0f ? -r : r;
    return s > 0.0f ? 1.0f : (s < 0.0f ? -1.0f : 0.0f);
}
// Half bits of x rounded to nearest even (overflow to infinity), dir breaking float-made ties.
inline ushort float_to_f16_dir(float x, float dir) {
    uint sign = (as_uint(x) >> 16) & 0x8000u;
    if (isnan(x)) {
        return (ushort) (sign | 0x7E00u);
    }
    float a = fabs(x);
    if (a == 0.0f) {
        return (ushort) sign;
    }
    int e = max(ilogb(a), -14);
    if (e > 15) {
        return (ushort) (sign | 0x7C00u);
    }
    float exact = a / ldexp(1.0f, e - 10);
    float m = rint(exact);
    if (dir != 0.0f && exact - floor(exact) == 0.5f) {
        m = dir > 0.0f ? floor(exact) + 1.0f : floor(exact);
    }
    if (m >= 2048.0f) {
        e++;
        m *= 0.5f;
    }
    if (e > 15) {
        return (ushort) (sign | 0x7C00u);
    }
    uint mi = (uint) m;
    if (mi < 1024u) {
        return (ushort) (sign | mi);
    }
    return (ushort) (sign | ((uint) (e + 15) << 10) | (mi - 1024u));
}

inline ushort float_to_bf16_dir(float x, float dir) {
    uint u = as_uint(x);
    if (!isnan(x) && dir != 0.0f && (u & 0xFFFFu) == 0x8000u) {
        return (ushort) ((u >> 16) + (dir > 0.0f ? 1u : 0u));
    }
    return float_to_bf16(x);
}

inline ushort quotient_to_f16(float x, float scale) {
    float q = quotient(x, scale);
    return float_to_f16_dir(q, quotient_direction(x, scale, q));
}

inline ushort quotient_to_bf16(float x, float scale) {
    float q = quotient(x, scale);
    return float_to_bf16_dir(q, quotient_direction(x, scale, q));
}

inline uchar quotient_to_e4m3(float x, float scale) {
    float q = quotient(x, scale);
    return float_to_fp8(q, quotient_direction(x, scale, q), 3, 7, 448.0f, 0x7Eu, 0x7Fu);
}
inline uchar quotient_to_e5m2(float x, float scale) {
    float q = quotient(x, scale);
    return float_to_fp8(q, quotient_direction(x, scale, q), 2, 15, 57344.0f, 0x7Bu, 0x7Eu);
}

// LOADn/STORE for a type code T over a pointer of its storage type.
#define STORAGE_0 float
#define STORAGE_1 half
#define STORAGE_2 ushort
#define STORAGE_3 uchar
#define STORAGE_4 uchar
#define STORAGE_(T) STORAGE_##T
#define STORAGE(T) STORAGE_(T)

#define LOAD_0(p, i) ((p)[i])
#define LOAD_1(p, i) vload_half(0, (p) + (i))
#define LOAD_2(p, i) bf16_to_float((p)[i])
#define LOAD_3(p, i) e4m3_to_float((p)[i])
#define LOAD_4(p, i) e5m2_to_float((p)[i])
#define LOAD_(T, p, i) LOAD_##T(p, i)
#define LOAD(T, p, i) LOAD_(T, p, i)

// LOAD, except that a NaN keeps its sign: GPUs' vload_half returns the canonical positive NaN,
// and append stores an input NaN's sign (spec §1). The other formats load by bit moves already.
#define LOAD_EXACT_0(p, i) LOAD_0(p, i)
#define LOAD_EXACT_1(p, i) half_bits_to_float(((__global const ushort*) (p))[i])
#define LOAD_EXACT_2(p, i) LOAD_2(p, i)
#define LOAD_EXACT_3(p, i) LOAD_3(p, i)
#define LOAD_EXACT_4(p, i) LOAD_4(p, i)
#define LOAD_EXACT_(T, p, i) LOAD_EXACT_##T(p, i)
#define LOAD_EXACT(T, p, i) LOAD_EXACT_(T, p, i)

#define LOAD4_0(p, i) vload4(0, (p) + (i))
#define LOAD4_1(p, i) vload_half4(0, (p) + (i))
#define LOAD4_2(p, i) as_float4(convert_uint4(vload4(0, (p) + (i))) << 16)
#define LOAD4_3(p, i) e4m3x4_to_float4(vload4(0, (p) + (i)))
#define LOAD4_4(p, i) e5m2x4_to_float4(vload4(0, (p) + (i)))
#define LOAD4_(T, p, i) LOAD4_##T(p, i)
#define LOAD4(T, p, i) LOAD4_(T, p, i)

// As LOAD4 where p + i is a multiple of 4 elements: one aligned vector load (vload4 only
// promises element alignment, so a GPU compiler may split it into element loads).
#define LOAD4A_0(p, i) (*(__global const float4*) ((p) + (i)))
#define LOAD4A_1(p, i) vloada_half4(0, (p) + (i))
#define LOAD4A_2(p, i) as_float4(convert_uint4(as_ushort4(*(__global const uint2*) ((p) + (i)))) << 16)
#define LOAD4A_3(p, i) e4m3x4_to_float4(as_uchar4(*(__global const uint*) ((p) + (i))))
#define LOAD4A_4(p, i) e5m2x4_to_float4(as_uchar4(*(__global const uint*) ((p) + (i))))
#define LOAD4A_(T, p, i) LOAD4A_##T(p, i)
#define LOAD4A(T, p, i) LOAD4A_(T, p, i)

// Vector FP8 decoders: the scalar bit recipes on N lanes at once.
#define FP8_VECTOR_DECODERS(N)                                                                   \
inline float##N e4m3x##N##_to_float##N(uchar##N raw) {                                          \
    uint##N b = convert_uint##N(raw);                                                            \
    uint##N e = (b >> 3) & 0xFu;                                                                 \
    uint##N m = b & 7u;                                                                          \
    float##N normal = as_float##N(((e + 120u) << 23) | (m << 20));                               \
    float##N sub = convert_float##N(m) * 0.001953125f;                                           \
    float##N v = select(normal, sub, convert_int##N(e == 0u));                                   \
    v = select(v, (float##N) (NAN), convert_int##N((e == 15u) & (m == 7u)));                     \
    return as_float##N(as_uint##N(v) | ((b & 0x80u) << 24));                                    \
}                                                                                                \
inline float##N e5m2x##N##_to_float##N(uchar##N raw) {                                          \
    uint##N b = convert_uint##N(raw);                                                            \
    uint##N e = (b >> 2) & 0x1Fu;                                                                \
    uint##N m = b & 3u;                                                                          \
    float##N normal = as_float##N(((e + 112u) << 23) | (m << 21));                               \
    float##N sub = convert_float##N(m) * 1.52587890625e-05f;                                     \
    float##N special = select((float##N) (NAN), (float##N) (INFINITY), convert_int##N(m == 0u)); \
    float##N v = select(normal, sub, convert_int##N(e == 0u));                                   \
    v = select(v, special, convert_int##N(e == 31u));                                            \
    return as_float##N(as_uint##N(v) | ((b & 0x80u) << 24));                                    \
}

FP8_VECTOR_DECODERS(4)
FP8_VECTOR_DECODERS(8)
FP8_VECTOR_DECODERS(16)

#define LOAD8_0(p, i) vload8(0, (p) + (i))
#define LOAD8_1(p, i) vload_half8(0, (p) + (i))
#define LOAD8_2(p, i) as_float8(convert_uint8(vload8(0, (p) + (i))) << 16)
#define LOAD8_3(p, i) e4m3x8_to_float8(vload8(0, (p) + (i)))
#define LOAD8_4(p, i) e5m2x8_to_float8(vload8(0, (p) + (i)))
#define LOAD8_(T, p, i) LOAD8_##T(p, i)
#define LOAD8(T, p, i) LOAD8_(T, p, i)

// As LOAD8 where p + i is a multiple of 8 elements: one aligned vector load (vload8 only
// promises element alignment, so a GPU compiler may split it into element loads).
#define LOAD8A_0(p, i) (*(__global const float8*) ((p) + (i)))
#define LOAD8A_1(p, i) vloada_half8(0, (p) + (i))
#define LOAD8A_2(p, i) as_float8(convert_uint8(as_ushort8(*(__global const uint4*) ((p) + (i)))) << 16)
#define LOAD8A_3(p, i) e4m3x8_to_float8(as_uchar8(*(__global const uint2*) ((p) + (i))))
#define LOAD8A_4(p, i) e5m2x8_to_float8(as_uchar8(*(__global const uint2*) ((p) + (i))))
#define LOAD8A_(T, p, i) LOAD8A_##T(p, i)
#define LOAD8A(T, p, i) LOAD8A_(T, p, i)

#define LOAD16_0(p, i) vload16(0, (p) + (i))
#define LOAD16_1(p, i) vload_half16(0, (p) + (i))
#define LOAD16_2(p, i) as_float16(convert_uint16(vload16(0, (p) + (i))) << 16)
#define LOAD16_3(p, i) e4m3x16_to_float16(vload16(0, (p) + (i)))
#define LOAD16_4(p, i) e5m2x16_to_float16(vload16(0, (p) + (i)))
#define LOAD16_(T, p, i) LOAD16_##T(p, i)
#define LOAD16(T, p, i) LOAD16_(T, p, i)

#define STORE_0(p, i, v) ((p)[i] = (v))
#define STORE_1(p, i, v) vstore_half_rte((v), 0, (p) + (i))
#define STORE_2(p, i, v) ((p)[i] = float_to_bf16(v))
#define STORE_3(p, i, v) ((p)[i] = float_to_e4m3(v))
#define STORE_4(p, i, v) ((p)[i] = float_to_e5m2(v))
#define STORE_(T, p, i, v) STORE_##T(p, i, v)
#define STORE(T, p, i, v) STORE_(T, p, i, v)

// Faults found in device-resident values (page tables, positions, indices): the first one is
// kept in fault[0..3] = (code, index, value, 1) until the host reads and clears it.
#define FAULT_BATCH_INDEX 1
#define FAULT_POSITION 2
#define FAULT_PAGE_RANGE 3
#define FAULT_PAGE_ID 4
#define FAULT_LENGTH 5

inline void report_fault(__global int* fault, int code, int index, int value) {
    if (atomic_cmpxchg(fault, 0, code) == 0) {
        fault[1] = index;
        fault[2] = value;
    }
}

// The larger of a and b, NaN when either is (fmax drops a NaN, which would hide a NaN logit
// or state behind the others and make its row look empty).
inline float max_nan(float a, float b) {
    return (isnan(a) || isnan(b)) ? a + b : fmax(a, b);
}

// ---------------------------------------------------------- copies from global to local memory

// 16 bytes from global to local memory; an invalid chunk is written as zeros. Built with
// ASYNC_COPY_PTX (NVIDIA's OpenCL on compute capability 8.0 and newer, whose compiler hands inline
// PTX to its assembler) a copy is cp.async: it bypasses registers and lands later, so a work-item
// commits its copies in groups and waits for them; elsewhere it is a load and a store that land at
// once. Either way a barrier after the wait makes every work-item's copies visible.
#if ASYNC_COPY_PTX
// A local pointer as the 32-bit .shared address PTX takes: OpenCL's local address space is the
// shared window itself, so the pointer's value is that address.
inline uint shared_address(__local const void* p) {
    return (uint) (size_t) p;
}
// Source size 0 for an invalid chunk: nothing is read.
inline void copy16(__local uint4* dst, __global const uint4* src, bool valid) {
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;"
                 :: "r"(shared_address(dst)), "l"(src), "r"(valid ? 16 : 0));
}
inline void copies_commit(void) {
    asm volatile("cp.async.commit_group;");
}
// Every copy this work-item issued has landed.
inline void copies_wait_all(void) {
    asm volatile("cp.async.wait_all;");
}
// All but this work-item's newest n committed groups have landed; n is a constant.
#define copies_wait_newest(n) asm volatile("cp.async.wait_group %0;" :: "n"(n))
#else
inline void copy16(__local uint4* dst, __global const uint4* src, bool valid) {
    *dst = valid ? *src : (uint4) (0u);
}
inline void copies_commit(void) {}
inline void copies_wait_all(void) {}
#define copies_wait_newest(n)
#endif
