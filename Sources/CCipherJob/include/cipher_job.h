/*
 * The body of every engine job: one EVP cipher operation, run on the ASYNC job's fibre.
 *
 * It is C rather than Swift because it runs on OpenSSL's 32 KiB fibre stack, which has no
 * guard page, and pauses inside the provider's `update`: Swift code there would need its
 * generic metadata instantiated beforehand and would leave dynamic exclusivity accesses open
 * across the switch (Swift tracks them in a per-thread list that the engine's own code uses
 * while the job is paused). C needs neither precaution and keeps the frames small.
 */
#ifndef CIPHER_JOB_H
#define CIPHER_JOB_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Which call of the operation failed. */
enum cipher_job_step {
    CIPHER_JOB_OK = 0,
    CIPHER_JOB_INIT = 1,
    CIPHER_JOB_AAD = 2,
    CIPHER_JOB_UPDATE = 3,
    CIPHER_JOB_FINAL = 4,
    CIPHER_JOB_TAG = 5,
};

typedef struct cipher_job_s {
    /* What to run; every pointer stays valid until the job has finished. */
    EVP_MAC_CTX *mac_context;         /* a MAC instead of a cipher: key, input and output are used */
    EVP_MD_CTX *md_context;           /* a signature instead: `pkey` signs the input into output
                                         (up to 128 bytes), or with `verify` checks `signature`
                                         and writes one byte, 1 when it holds */
    EVP_PKEY *pkey;
    int digests_sha256;               /* 1 for ECDSA (SHA-256), 0 for Ed25519 (its own) */
    int verify;
    const unsigned char *signature;
    size_t signature_length;
    EVP_CIPHER_CTX *context;          /* fresh or reset */
    const EVP_CIPHER *cipher;
    int encrypt;
    int is_aead;
    const unsigned char *key;         /* NULL when the cipher takes none */
    const unsigned char *nonce;       /* NULL when the cipher takes none */
    const unsigned char *aad;
    size_t aad_length;
    const unsigned char *input;
    size_t input_length;
    unsigned char *output;            /* room for input_length bytes */
    unsigned char *tag;               /* 16 bytes: written when encrypting, read when decrypting */
    int measures_stack;               /* paint the fibre's stack and measure the deepest use */
    /* A second operation run on this one's output, in the same job (a rewrap: open under one
     * key version, seal under another; the plaintext never leaves the job's memory). Its input
     * is set here; its results are this job's. NULL for one operation. */
    struct cipher_job_s *then;

    /* What happened. */
    int failed_step;                  /* enum cipher_job_step */
    unsigned long error;              /* the first OpenSSL error of the failure, or 0 */
    size_t output_length;
    int has_device_result;            /* the provider reported the unit and time below */
    unsigned int device_unit;
    uint64_t device_nanoseconds;
    size_t deepest_stack_bytes;       /* when measures_stack */
} cipher_job;

/* The ASYNC job function: `arguments` holds a `cipher_job *`. Returns 1 when it ran (check
 * failed_step), 0 when it got no job. */
int cipher_job_run(void *arguments);

/* The fibre stack gauge's geometry, for its tests. */
#define CIPHER_JOB_PAINTED_BYTES (24 * 1024)
#define CIPHER_JOB_UNPAINTED_GAP 512

/* Paints the stack below the caller and returns the address depths are measured from. */
uintptr_t cipher_job_paint_stack(void);
/* The deepest use, in bytes below `top`, since the paint. */
size_t cipher_job_measure_stack(uintptr_t top);

#ifdef __cplusplus
}
#endif

#endif
