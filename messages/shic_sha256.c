/*  =========================================================================
    shic_sha256 - SHA-256 of FIPS 180-4

    Self-contained so that instance keys and secret fingerprints need no
    crypto library: the kernel hashes a few hundred bytes at a time, and
    speed does not matter here.
    =========================================================================
*/

#include <czmq.h>
#include "shic_sha256.h"

static const uint32_t s_sha256_k [64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2
};

static uint32_t
s_rotr (uint32_t value, int bits)
{
    return (value >> bits) | (value << (32 - bits));
}

//  Compresses one 64-byte block into state
static void
s_sha256_block (uint32_t state [8], const uint8_t *block)
{
    uint32_t w [64];
    for (int index = 0; index < 16; index++)
        w [index] = (uint32_t) block [index * 4] << 24
                  | (uint32_t) block [index * 4 + 1] << 16
                  | (uint32_t) block [index * 4 + 2] << 8
                  | (uint32_t) block [index * 4 + 3];
    for (int index = 16; index < 64; index++) {
        uint32_t s0 = s_rotr (w [index - 15], 7) ^ s_rotr (w [index - 15], 18)
                    ^ (w [index - 15] >> 3);
        uint32_t s1 = s_rotr (w [index - 2], 17) ^ s_rotr (w [index - 2], 19)
                    ^ (w [index - 2] >> 10);
        w [index] = w [index - 16] + s0 + w [index - 7] + s1;
    }
    uint32_t a = state [0], b = state [1], c = state [2], d = state [3];
    uint32_t e = state [4], f = state [5], g = state [6], h = state [7];
    for (int index = 0; index < 64; index++) {
        uint32_t sum1 = s_rotr (e, 6) ^ s_rotr (e, 11) ^ s_rotr (e, 25);
        uint32_t choose = (e & f) ^ (~e & g);
        uint32_t temp1 = h + sum1 + choose + s_sha256_k [index] + w [index];
        uint32_t sum0 = s_rotr (a, 2) ^ s_rotr (a, 13) ^ s_rotr (a, 22);
        uint32_t majority = (a & b) ^ (a & c) ^ (b & c);
        uint32_t temp2 = sum0 + majority;
        h = g;
        g = f;
        f = e;
        e = d + temp1;
        d = c;
        c = b;
        b = a;
        a = temp1 + temp2;
    }
    state [0] += a; state [1] += b; state [2] += c; state [3] += d;
    state [4] += e; state [5] += f; state [6] += g; state [7] += h;
}

void
shic_sha256 (const void *data, size_t size, uint8_t digest [32])
{
    uint32_t state [8] = {
        0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
        0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19
    };
    const uint8_t *bytes = (const uint8_t *) data;
    size_t left = size;
    while (left >= 64) {
        s_sha256_block (state, bytes);
        bytes += 64;
        left -= 64;
    }
    //  Padding: 0x80, zeros, then the length in bits, big-endian
    uint8_t tail [128];
    memset (tail, 0, sizeof (tail));
    if (left)
        memcpy (tail, bytes, left);
    tail [left] = 0x80;
    size_t tail_size = left < 56? 64: 128;
    uint64_t bits = (uint64_t) size * 8;
    for (int index = 0; index < 8; index++)
        tail [tail_size - 1 - index] = (uint8_t) (bits >> (8 * index));
    s_sha256_block (state, tail);
    if (tail_size == 128)
        s_sha256_block (state, tail + 64);
    for (int index = 0; index < 8; index++) {
        digest [index * 4] = (uint8_t) (state [index] >> 24);
        digest [index * 4 + 1] = (uint8_t) (state [index] >> 16);
        digest [index * 4 + 2] = (uint8_t) (state [index] >> 8);
        digest [index * 4 + 3] = (uint8_t) state [index];
    }
}


//  ---------------------------------------------------------------------------
//  Self test

static void
s_expect_sha256 (const char *input, size_t size, const char *hex)
{
    uint8_t digest [32];
    shic_sha256 (input, size, digest);
    char text [65];
    for (int index = 0; index < 32; index++)
        snprintf (text + index * 2, 3, "%02x", digest [index]);
    if (!streq (text, hex)) {
        fprintf (stderr, "shic_sha256_test: expected %s\n    got %s\n", hex, text);
        assert (false);
    }
}

void
shic_sha256_test (bool verbose)
{
    printf (" * shic_sha256: ");
    if (verbose)
        printf ("\n");

    //  FIPS 180-4 examples, one and two padding blocks
    s_expect_sha256 ("", 0,
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    s_expect_sha256 ("abc", 3,
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    s_expect_sha256 ("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56,
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    //  55 bytes is the most that pads into one block; 64 is a whole block
    s_expect_sha256 ("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 55,
        "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318");
    s_expect_sha256 ("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 64,
        "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb");
    {
        //  Multi-block input: one million times 'a'
        size_t size = 1000000;
        char *million = (char *) malloc (size);
        assert (million);
        memset (million, 'a', size);
        s_expect_sha256 (million, size,
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
        free (million);
    }

    printf ("OK\n");
}
