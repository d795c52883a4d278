/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Streaming SHA-256, for image and recipe hashes. */
#ifndef STRATA_COWFS_SHA256_H
#define STRATA_COWFS_SHA256_H

#include <stddef.h>
#include <stdint.h>

struct sha256_ctx {
	uint32_t h[8];
	uint64_t len;
	uint8_t buf[64];
	size_t fill;
};
void sha256_init(struct sha256_ctx *c);
void sha256_update(struct sha256_ctx *c, const void *data, size_t n);
void sha256_final(struct sha256_ctx *c, uint8_t out[32]);
void sha256_hex(const uint8_t d[32], char out[65]);
/* Hash of a buffer, hex. */
void sha256_buf_hex(const void *data, size_t n, char out[65]);

#endif
