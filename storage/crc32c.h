/* CRC32C (Castagnoli polynomial, reflected 0x82F63B78) used by every
 * checksum in the log's on-disk format. Internal to storage/. */
#ifndef TR_STORAGE_CRC32C_H
#define TR_STORAGE_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* Continues a CRC: start with crc = 0 for a fresh checksum. Uses the SSE4.2
 * crc32 instruction when the CPU has it (checked at run time), a
 * slicing-by-8 table otherwise; both give the same value. */
uint32_t tr_log_crc32c(uint32_t crc, const void *data, size_t len);

/* The portable table-driven version, exposed so tests can compare both. */
uint32_t tr_log_crc32c_sw(uint32_t crc, const void *data, size_t len);

#endif
