#include <string.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/params.h>

#include "cipher_job.h"
#include "offloadsim.h"  /* the device parameters offloadsim reports; other providers ignore them */

static const unsigned char paint_pattern = 0xA5;

__attribute__((noinline)) uintptr_t cipher_job_paint_stack(void)
{
    uintptr_t top = (uintptr_t)__builtin_frame_address(0);
    memset((void *)(top - CIPHER_JOB_PAINTED_BYTES), paint_pattern,
           CIPHER_JOB_PAINTED_BYTES - CIPHER_JOB_UNPAINTED_GAP);
    return top;
}

size_t cipher_job_measure_stack(uintptr_t top)
{
    const volatile unsigned char *low = (const volatile unsigned char *)(top - CIPHER_JOB_PAINTED_BYTES);
    size_t untouched = 0;
    while (untouched < CIPHER_JOB_PAINTED_BYTES - CIPHER_JOB_UNPAINTED_GAP && low[untouched] == paint_pattern)
        untouched++;
    return CIPHER_JOB_PAINTED_BYTES - untouched;
}

/* Records the failing step and empties the thread's error queue, keeping its first entry. */
static void fail(cipher_job *job, int step)
{
    job->failed_step = step;
    job->error = ERR_get_error();
    ERR_clear_error();
}

/* Hands the 16-byte tag to the cipher (decrypting) or takes it from the cipher (encrypting). */
static int exchange_tag(cipher_job *job, EVP_CIPHER_CTX *context)
{
    OSSL_PARAM tag[2] = {
        OSSL_PARAM_construct_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG, job->tag, 16),
        OSSL_PARAM_construct_end(),
    };
    return job->encrypt ? EVP_CIPHER_CTX_get_params(context, tag) : EVP_CIPHER_CTX_set_params(context, tag);
}

/* HMAC-SHA-256 of the input under the 32-byte key into `output` (32 bytes). */
static void run_mac(cipher_job *job)
{
    OSSL_PARAM digest[2] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0),
        OSSL_PARAM_construct_end(),
    };
    size_t length = 0;
    if (EVP_MAC_init(job->mac_context, job->key, 32, digest) != 1) {
        fail(job, CIPHER_JOB_INIT);
        return;
    }
    if (EVP_MAC_update(job->mac_context, job->input, job->input_length) != 1) {
        fail(job, CIPHER_JOB_UPDATE);
        return;
    }
    if (EVP_MAC_final(job->mac_context, job->output, &length, 32) != 1) {
        fail(job, CIPHER_JOB_FINAL);
        return;
    }
    job->output_length = length;
    job->failed_step = CIPHER_JOB_OK;
}

/* Signs the input, or checks a signature of it (a malformed signature is simply not valid). */
static void run_signature(cipher_job *job)
{
    const char *digest = job->digests_sha256 ? "SHA256" : NULL;
    int ready = job->verify
        ? EVP_DigestVerifyInit_ex(job->md_context, NULL, digest, NULL, NULL, job->pkey, NULL)
        : EVP_DigestSignInit_ex(job->md_context, NULL, digest, NULL, NULL, job->pkey, NULL);
    if (ready != 1) {
        fail(job, CIPHER_JOB_INIT);
        return;
    }
    if (job->verify) {
        int valid = EVP_DigestVerify(job->md_context, job->signature, job->signature_length,
                                     job->input, job->input_length);
        ERR_clear_error();
        job->output[0] = valid == 1 ? 1 : 0;
        job->output_length = 1;
        job->failed_step = CIPHER_JOB_OK;
        return;
    }
    size_t length = 128;
    if (EVP_DigestSign(job->md_context, job->output, &length, job->input, job->input_length) != 1) {
        fail(job, CIPHER_JOB_UPDATE);
        return;
    }
    job->output_length = length;
    job->failed_step = CIPHER_JOB_OK;
}

static void run(cipher_job *job)
{
    if (job->mac_context != NULL) {
        run_mac(job);
        return;
    }
    if (job->md_context != NULL) {
        run_signature(job);
        return;
    }
    EVP_CIPHER_CTX *context = job->context;
    int length = 0;
    if (EVP_CipherInit_ex2(context, job->cipher, job->key, job->nonce, job->encrypt, NULL) != 1) {
        fail(job, CIPHER_JOB_INIT);
        return;
    }
    if (job->is_aead && !job->encrypt && exchange_tag(job, context) != 1) {
        fail(job, CIPHER_JOB_TAG);
        return;
    }
    if (job->aad_length > 0
        && EVP_CipherUpdate(context, NULL, &length, job->aad, (int)job->aad_length) != 1) {
        fail(job, CIPHER_JOB_AAD);
        return;
    }
    /* The provider pauses the job in here until the device has completed the operation. */
    if (EVP_CipherUpdate(context, job->output, &length, job->input, (int)job->input_length) != 1) {
        fail(job, CIPHER_JOB_UPDATE);
        return;
    }
    job->output_length = (size_t)length;
    unsigned int unit = 0;
    uint64_t nanoseconds = 0;
    OSSL_PARAM device[3] = {
        OSSL_PARAM_construct_uint(OFFLOADSIM_PARAM_DEVICE_UNIT, &unit),
        OSSL_PARAM_construct_uint64(OFFLOADSIM_PARAM_DEVICE_NANOSECONDS, &nanoseconds),
        OSSL_PARAM_construct_end(),
    };
    if (EVP_CIPHER_CTX_get_params(context, device) == 1 && OSSL_PARAM_modified(&device[0])) {
        job->has_device_result = 1;
        job->device_unit = unit;
        job->device_nanoseconds = nanoseconds;
    }
    if (EVP_CipherFinal_ex(context, job->output + length, &length) != 1) {
        fail(job, CIPHER_JOB_FINAL);
        return;
    }
    job->output_length += (size_t)length;
    if (job->is_aead && job->encrypt && exchange_tag(job, context) != 1) {
        fail(job, CIPHER_JOB_TAG);
        return;
    }
    job->failed_step = CIPHER_JOB_OK;
}

int cipher_job_run(void *arguments)
{
    if (arguments == NULL)
        return 0;
    cipher_job *job = *(cipher_job **)arguments;
    uintptr_t top = job->measures_stack ? cipher_job_paint_stack() : 0;
    /* The thread's error queue may hold an entry left by other work on this thread; `fail`
     * keeps the first entry, which must be this job's. (No job holds entries across a pause:
     * a failure is read as soon as it is raised.) Looked at first: emptying an empty queue
     * still clears all 16 of its slots, a few hundred instructions on every job. */
    if (ERR_peek_error() != 0)
        ERR_clear_error();
    if (job->input_length > 0x7fffffff || job->aad_length > 0x7fffffff) {
        job->failed_step = CIPHER_JOB_INIT;
        return 1;
    }
    run(job);
    cipher_job *then = job->then;
    if (then != NULL && job->failed_step == CIPHER_JOB_OK) {
        then->input = job->output;
        then->input_length = job->output_length;
        run(then);
        job->failed_step = then->failed_step;
        job->error = then->error;
        if (then->has_device_result) {
            job->device_unit = then->device_unit;
            job->device_nanoseconds += then->device_nanoseconds;
            job->has_device_result = 1;
        }
    }
    if (job->measures_stack)
        job->deepest_stack_bytes = cipher_job_measure_stack(top);
    return 1;
}
