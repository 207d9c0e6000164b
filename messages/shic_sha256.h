/*  =========================================================================
    shic_sha256 - SHA-256 of FIPS 180-4
    =========================================================================
*/

#ifndef SHIC_SHA256_H_INCLUDED
#define SHIC_SHA256_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

//  SHA-256 of data into digest (32 bytes)
void shic_sha256 (const void *data, size_t size, uint8_t digest [32]);

void shic_sha256_test (bool verbose);

#ifdef __cplusplus
}
#endif

#endif
