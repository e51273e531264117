// CCRC32C: Keel's CRC32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum of WAL
// records and B+tree meta pages. Two implementations with one contract: the SSE4.2 `crc32`
// instruction where the CPU has it, and a slicing-by-8 table otherwise. Both take and return
// the running CRC *without* the final inversion, so a caller can chain buffers; KeelIO's
// `CRC32C` applies the standard pre/post inversion.
#ifndef KEEL_CRC32C_H
#define KEEL_CRC32C_H
#include <stddef.h>
#include <stdint.h>

/// 1 when this CPU executes SSE4.2's crc32 instruction, else 0.
int keel_crc32c_hardware_available(void);
/// Extends `crc` over `length` bytes with the crc32 instruction. Only call when available.
uint32_t keel_crc32c_hardware(uint32_t crc, const void *bytes, size_t length);
/// Extends `crc` over `length` bytes with the slicing-by-8 tables (any CPU).
uint32_t keel_crc32c_table(uint32_t crc, const void *bytes, size_t length);
/// Extends `crc` one byte at a time with a single 256-entry table: the textbook baseline.
uint32_t keel_crc32c_bytewise(uint32_t crc, const void *bytes, size_t length);
#endif
