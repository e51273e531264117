// See include/keel_crc32c.h for the contract. The tables are built once, on first use, by a
// constructor so that no caller ever races on their initialisation.
#include "keel_crc32c.h"
#include <string.h>

#define KEEL_CRC32C_POLY 0x82F63B78u

static uint32_t keel_crc32c_tables[8][256];

__attribute__((constructor)) static void keel_crc32c_build_tables(void) {
    for (uint32_t n = 0; n < 256; n++) {
        uint32_t c = n;
        for (int k = 0; k < 8; k++) c = (c & 1) ? (c >> 1) ^ KEEL_CRC32C_POLY : c >> 1;
        keel_crc32c_tables[0][n] = c;
    }
    for (uint32_t n = 0; n < 256; n++) {
        uint32_t c = keel_crc32c_tables[0][n];
        for (int t = 1; t < 8; t++) {
            c = keel_crc32c_tables[0][c & 0xff] ^ (c >> 8);
            keel_crc32c_tables[t][n] = c;
        }
    }
}

uint32_t keel_crc32c_bytewise(uint32_t crc, const void *bytes, size_t length) {
    const uint8_t *p = bytes;
    for (size_t i = 0; i < length; i++) crc = keel_crc32c_tables[0][(crc ^ p[i]) & 0xff] ^ (crc >> 8);
    return crc;
}

uint32_t keel_crc32c_table(uint32_t crc, const void *bytes, size_t length) {
    const uint8_t *p = bytes;
    while (length >= 8) {
        uint64_t word;
        memcpy(&word, p, 8); // little-endian hosts only (x86-64, arm64)
        word ^= crc;
        crc = keel_crc32c_tables[7][word & 0xff] ^ keel_crc32c_tables[6][(word >> 8) & 0xff] ^
              keel_crc32c_tables[5][(word >> 16) & 0xff] ^ keel_crc32c_tables[4][(word >> 24) & 0xff] ^
              keel_crc32c_tables[3][(word >> 32) & 0xff] ^ keel_crc32c_tables[2][(word >> 40) & 0xff] ^
              keel_crc32c_tables[1][(word >> 48) & 0xff] ^ keel_crc32c_tables[0][word >> 56];
        p += 8;
        length -= 8;
    }
    return keel_crc32c_bytewise(crc, p, length);
}

#if defined(__x86_64__)
int keel_crc32c_hardware_available(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("sse4.2") ? 1 : 0;
}

// Three independent crc32 chains over three thirds of each 3 KiB block hide the
// instruction's 3-cycle latency; the partial CRCs are then folded together by running the
// shorter ones through zero-extension tables built from the polynomial (`shift` below).
__attribute__((target("sse4.2"))) static uint32_t keel_crc32c_hw_serial(uint32_t crc, const uint8_t *p, size_t length) {
    uint64_t c = crc;
    while (length >= 8) {
        uint64_t word;
        memcpy(&word, p, 8);
        c = __builtin_ia32_crc32di(c, word);
        p += 8;
        length -= 8;
    }
    uint32_t c32 = (uint32_t)c;
    while (length > 0) {
        c32 = __builtin_ia32_crc32qi(c32, *p);
        p++;
        length--;
    }
    return c32;
}

// Multiplies two polynomials modulo P in the reflected domain (used to build shift operators).
static uint32_t keel_gf2_multiply(uint32_t a, uint32_t b) {
    uint32_t product = 0;
    for (int i = 0; i < 32; i++) {
        if (a & 0x80000000u) product ^= b;
        b = (b & 1) ? (b >> 1) ^ KEEL_CRC32C_POLY : b >> 1;
        a <<= 1;
    }
    return product;
}

#define KEEL_CRC32C_STRIDE 1024u
// x^(8*STRIDE*k) mod P for k = 1, 2: multiplying a partial CRC by it appends STRIDE*k zero bytes.
static uint32_t keel_crc32c_shift_once;
static uint32_t keel_crc32c_shift_twice;

__attribute__((constructor)) static void keel_crc32c_build_shifts(void) {
    // x^0 in the reflected domain is 0x80000000; x^8 is one zero byte appended, etc.
    uint32_t x8 = 0x00800000u;              // x^8
    uint32_t power = 0x80000000u;           // x^0
    for (unsigned i = 0; i < KEEL_CRC32C_STRIDE; i++) power = keel_gf2_multiply(power, x8);
    keel_crc32c_shift_once = power;
    keel_crc32c_shift_twice = keel_gf2_multiply(power, power);
}

__attribute__((target("sse4.2"))) uint32_t keel_crc32c_hardware(uint32_t crc, const void *bytes, size_t length) {
    const uint8_t *p = bytes;
    while (length >= 3 * KEEL_CRC32C_STRIDE) {
        uint64_t a = crc, b = 0, c = 0;
        for (unsigned i = 0; i < KEEL_CRC32C_STRIDE; i += 8) {
            uint64_t wa, wb, wc;
            memcpy(&wa, p + i, 8);
            memcpy(&wb, p + KEEL_CRC32C_STRIDE + i, 8);
            memcpy(&wc, p + 2 * KEEL_CRC32C_STRIDE + i, 8);
            a = __builtin_ia32_crc32di(a, wa);
            b = __builtin_ia32_crc32di(b, wb);
            c = __builtin_ia32_crc32di(c, wc);
        }
        crc = keel_gf2_multiply((uint32_t)a, keel_crc32c_shift_twice) ^
              keel_gf2_multiply((uint32_t)b, keel_crc32c_shift_once) ^ (uint32_t)c;
        p += 3 * KEEL_CRC32C_STRIDE;
        length -= 3 * KEEL_CRC32C_STRIDE;
    }
    return keel_crc32c_hw_serial(crc, p, length);
}
#else
int keel_crc32c_hardware_available(void) { return 0; }
uint32_t keel_crc32c_hardware(uint32_t crc, const void *bytes, size_t length) {
    return keel_crc32c_table(crc, bytes, length);
}
#endif
