/*
 * The offloadsim OpenSSL 3 provider: XOR-0XAA, AES-256-GCM and ChaCha20-Poly1305 whose
 * `update` goes through the simulated device. Inside an ASYNC job it submits the operation,
 * pauses the job (never holding a lock) and returns once the device has completed it, as
 * Intel's qatprovider and Linaro's uadk_provider do; outside a job it waits synchronously.
 *
 * The cipher arithmetic of the AEADs comes from OpenSSL's default provider, fetched in a
 * private library context so that it never recurses into this provider. The device's answer
 * decides whether the output is produced: a failed operation leaves the output untouched.
 *
 * Everything here runs on the job's 32 KiB fibre stack: no large locals, no deep calls.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <openssl/core_dispatch.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/provider.h>

#include "device_internal.h"

enum cipher_kind { KIND_XOR, KIND_AES_256_GCM, KIND_CHACHA20_POLY1305, KIND_COUNT };

typedef struct {
    const OSSL_CORE_HANDLE *handle;
    OSSL_FUNC_core_new_error_fn *new_error;
    OSSL_FUNC_core_set_error_debug_fn *set_error_debug;
    OSSL_FUNC_core_vset_error_fn *vset_error;
    /* The default provider in a library context of our own, for the AEAD arithmetic. */
    OSSL_LIB_CTX *software;
    OSSL_PROVIDER *software_provider;
    EVP_CIPHER *software_ciphers[KIND_COUNT];
    /* The software cipher's gettable context parameters plus ours, per cipher. */
    OSSL_PARAM *gettable_ctx_params[KIND_COUNT];
    offloadsim_device *device;
    int owns_device;
} provider_context;

typedef struct {
    provider_context *provider;
    enum cipher_kind kind;
    EVP_CIPHER_CTX *software;  /* NULL for XOR-0XAA */
    int encrypting;
    int has_device_result;
    uint32_t device_unit;
    uint64_t device_ns;
} cipher_context;

/* The key this provider's eventfd is registered under in every wait context. */
static const char wait_fd_key;

/* The wait context whose pending operation the application asked to fail (this thread). */
static __thread ASYNC_WAIT_CTX *aborted_wait_ctx;

void offloadsim_fail_pending(ASYNC_WAIT_CTX *wait_ctx)
{
    aborted_wait_ctx = wait_ctx;
}

static void raise_error(provider_context *provider, int reason, const char *format, ...)
{
    if (provider == NULL || provider->new_error == NULL || provider->vset_error == NULL)
        return;
    va_list arguments;
    va_start(arguments, format);
    provider->new_error(provider->handle);
    if (provider->set_error_debug != NULL)
        provider->set_error_debug(provider->handle, OPENSSL_FILE, OPENSSL_LINE, OPENSSL_FUNC);
    provider->vset_error(provider->handle, (uint32_t)reason, format, arguments);
    va_end(arguments);
}

/* ---- waiting for the device inside a job ---- */

/* How the device reaches the paused job; lives on the job's stack while it waits. */
typedef struct {
    ASYNC_WAIT_CTX *wait_ctx;
    int fd;                       /* fd mode: the wait context's eventfd */
    ASYNC_callback_fn callback;   /* callback mode */
    void *callback_argument;
} waiter;

/* Called by the queue's poller under the queue's lock: signal the job, never block. */
static void notify_waiter(void *argument, int retry)
{
    waiter *target = argument;
    if (target->callback != NULL) {
        ASYNC_WAIT_CTX_set_status(target->wait_ctx, retry ? ASYNC_STATUS_EAGAIN : ASYNC_STATUS_OK);
        target->callback(target->callback_argument);
    } else {
        uint64_t one = 1;
        ssize_t written = write(target->fd, &one, sizeof(one));
        (void)written;  /* an eventfd write fails only when the counter would overflow */
    }
}

static void close_wait_fd(ASYNC_WAIT_CTX *wait_ctx, const void *key, OSSL_ASYNC_FD fd, void *custom)
{
    (void)wait_ctx, (void)key, (void)custom;
    close(fd);
}

/* Callback mode when the application set a callback; otherwise one eventfd per wait context,
 * made on first use and closed with the context. */
static int prepare_waiter(waiter *target, ASYNC_WAIT_CTX *wait_ctx)
{
    memset(target, 0, sizeof(*target));
    target->wait_ctx = wait_ctx;
    target->fd = -1;
    if (ASYNC_WAIT_CTX_get_callback(wait_ctx, &target->callback, &target->callback_argument) == 1
        && target->callback != NULL)
        return 1;
    target->callback = NULL;
    void *custom = NULL;
    OSSL_ASYNC_FD fd = -1;
    if (ASYNC_WAIT_CTX_get_fd(wait_ctx, &wait_fd_key, &fd, &custom) == 1 && fd >= 0) {
        target->fd = fd;
        return 1;
    }
    fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (fd < 0)
        return 0;
    if (ASYNC_WAIT_CTX_set_wait_fd(wait_ctx, &wait_fd_key, fd, NULL, close_wait_fd) != 1) {
        close(fd);
        return 0;
    }
    target->fd = fd;
    return 1;
}

enum wait_result { WAIT_DONE, WAIT_FAILED, WAIT_ABORTED, WAIT_BROKEN };

/* Pauses until the operation is no longer pending. A resume that finds it pending (spurious,
 * or a stale signal) pauses again; a resume after offloadsim_fail_pending ends the wait. */
static enum wait_result wait_for(offloadsim_op *op, const waiter *target, uint32_t *unit,
                                 uint64_t *device_ns)
{
    for (;;) {
        int state = offloadsim_op_state(op, unit, device_ns);
        if (state != OFFLOADSIM_OP_PENDING) {
            if (target->fd >= 0) {
                uint64_t count;
                ssize_t drained = read(target->fd, &count, sizeof(count));  /* the signal is spent */
                (void)drained;
            }
            offloadsim_op_release(op, 0);
            return state == OFFLOADSIM_OP_DONE ? WAIT_DONE : WAIT_FAILED;
        }
        if (ASYNC_pause_job() != 1) {
            offloadsim_op_release(op, 1);
            return WAIT_BROKEN;
        }
        if (aborted_wait_ctx != NULL && aborted_wait_ctx == target->wait_ctx) {
            aborted_wait_ctx = NULL;
            offloadsim_op_release(op, 1);
            return WAIT_ABORTED;
        }
    }
}

/* One trip through the device for `bytes` bytes: 1 on success, else 0 with an error raised. */
static int device_trip(cipher_context *context, size_t bytes)
{
    provider_context *provider = context->provider;
    offloadsim_device *device = provider->device;
    if (device == NULL) {
        raise_error(provider, OFFLOADSIM_R_NO_DEVICE, "the provider has no device attached");
        return 0;
    }
    ASYNC_JOB *job = ASYNC_get_current_job();
    if (job == NULL) {
        int reason = offloadsim_run_synchronously(device, bytes, &context->device_unit, &context->device_ns);
        if (reason != 0) {
            raise_error(provider, reason, "the accelerator failed the operation");
            return 0;
        }
        context->has_device_result = 1;
        return 1;
    }
    ASYNC_WAIT_CTX *wait_ctx = ASYNC_get_wait_ctx(job);
    offloadsim_queue *queue = offloadsim_queue_for_current_thread(device);
    waiter target;
    if (wait_ctx == NULL || queue == NULL || !prepare_waiter(&target, wait_ctx)) {
        raise_error(provider, OFFLOADSIM_R_NO_DEVICE, "no way to wait for the device in this job");
        return 0;
    }
    offloadsim_op *op = NULL;
    uint32_t retries = 0;
    while (offloadsim_submit(device, queue, bytes, notify_waiter, &target, &op) == OFFLOADSIM_RING_FULL) {
        /* A full ring: wake ourselves after the retry delay with ASYNC_STATUS_EAGAIN, pause,
         * and try again (QAT's retry), a bounded number of times. */
        if (retries++ >= offloadsim_device_config(device)->ring_retry_limit
            || !offloadsim_schedule_retry(device, queue, notify_waiter, &target, &op)) {
            ASYNC_WAIT_CTX_set_status(wait_ctx, ASYNC_STATUS_OK);
            raise_error(provider, OFFLOADSIM_R_RING_FULL, "the accelerator's ring stayed full");
            return 0;
        }
        ASYNC_WAIT_CTX_set_status(wait_ctx, ASYNC_STATUS_EAGAIN);
        enum wait_result waited = wait_for(op, &target, NULL, NULL);
        if (waited == WAIT_ABORTED || waited == WAIT_BROKEN) {
            ASYNC_WAIT_CTX_set_status(wait_ctx, ASYNC_STATUS_OK);
            raise_error(provider, OFFLOADSIM_R_ABORTED, "the operation was abandoned");
            return 0;
        }
    }
    ASYNC_WAIT_CTX_set_status(wait_ctx, ASYNC_STATUS_OK);
    enum wait_result waited = wait_for(op, &target, &context->device_unit, &context->device_ns);
    switch (waited) {
    case WAIT_DONE:
        context->has_device_result = 1;
        return 1;
    case WAIT_FAILED:
        context->has_device_result = 1;
        raise_error(provider, OFFLOADSIM_R_DEVICE_ERROR, "the accelerator reported a failure");
        return 0;
    default:
        raise_error(provider, OFFLOADSIM_R_ABORTED, "the operation was abandoned");
        return 0;
    }
}

/* ---- cipher contexts ---- */

static cipher_context *new_context(provider_context *provider, enum cipher_kind kind)
{
    cipher_context *context = calloc(1, sizeof(*context));
    if (context == NULL)
        return NULL;
    context->provider = provider;
    context->kind = kind;
    if (kind != KIND_XOR) {
        context->software = EVP_CIPHER_CTX_new();
        if (context->software == NULL
            || EVP_CipherInit_ex2(context->software, provider->software_ciphers[kind], NULL, NULL, 1, NULL) != 1) {
            EVP_CIPHER_CTX_free(context->software);
            free(context);
            return NULL;
        }
    }
    return context;
}

static void *xor_newctx(void *provctx) { return new_context(provctx, KIND_XOR); }
static void *aes_newctx(void *provctx) { return new_context(provctx, KIND_AES_256_GCM); }
static void *chacha_newctx(void *provctx) { return new_context(provctx, KIND_CHACHA20_POLY1305); }

static void freectx(void *vcontext)
{
    cipher_context *context = vcontext;
    if (context == NULL)
        return;
    EVP_CIPHER_CTX_free(context->software);
    free(context);
}

static void *dupctx(void *vcontext)
{
    cipher_context *source = vcontext;
    cipher_context *copy = malloc(sizeof(*copy));
    if (copy == NULL)
        return NULL;
    *copy = *source;
    if (source->software != NULL) {
        copy->software = EVP_CIPHER_CTX_new();
        if (copy->software == NULL || EVP_CIPHER_CTX_copy(copy->software, source->software) != 1) {
            EVP_CIPHER_CTX_free(copy->software);
            free(copy);
            return NULL;
        }
    }
    return copy;
}

static int init(void *vcontext, const unsigned char *key, const unsigned char *iv,
                const OSSL_PARAM params[], int encrypting)
{
    cipher_context *context = vcontext;
    context->encrypting = encrypting;
    context->has_device_result = 0;
    if (context->software == NULL)
        return 1;
    if (EVP_CipherInit_ex2(context->software, NULL, key, iv, encrypting, params) != 1) {
        raise_error(context->provider, OFFLOADSIM_R_CIPHER_ERROR, "the cipher refused its key or nonce");
        return 0;
    }
    return 1;
}

static int encrypt_init(void *vcontext, const unsigned char *key, size_t keylen,
                        const unsigned char *iv, size_t ivlen, const OSSL_PARAM params[])
{
    (void)keylen, (void)ivlen;
    return init(vcontext, key, iv, params, 1);
}

static int decrypt_init(void *vcontext, const unsigned char *key, size_t keylen,
                        const unsigned char *iv, size_t ivlen, const OSSL_PARAM params[])
{
    (void)keylen, (void)ivlen;
    return init(vcontext, key, iv, params, 0);
}

/* AAD (out NULL) goes straight to the arithmetic; data makes a trip through the device first. */
static int update(void *vcontext, unsigned char *out, size_t *outl, size_t outsize,
                  const unsigned char *in, size_t inl)
{
    cipher_context *context = vcontext;
    if (inl > INT32_MAX) {
        raise_error(context->provider, OFFLOADSIM_R_CIPHER_ERROR, "input too long");
        return 0;
    }
    if (out == NULL) {
        int length = 0;
        if (context->software == NULL
            || EVP_CipherUpdate(context->software, NULL, &length, in, (int)inl) != 1) {
            raise_error(context->provider, OFFLOADSIM_R_CIPHER_ERROR, "associated data refused");
            return 0;
        }
        *outl = (size_t)length;
        return 1;
    }
    if (outsize < inl) {
        raise_error(context->provider, OFFLOADSIM_R_CIPHER_ERROR, "output buffer too small");
        return 0;
    }
    if (inl == 0) {
        /* The device rejects empty operations, as the seed's accelerator did. */
        raise_error(context->provider, OFFLOADSIM_R_DEVICE_ERROR, "the accelerator rejected an empty input");
        return 0;
    }
    if (!device_trip(context, inl))
        return 0;
    if (context->software == NULL) {
        for (size_t index = 0; index < inl; index++)
            out[index] = in[index] ^ 0xAA;
        *outl = inl;
        return 1;
    }
    int length = 0;
    if (EVP_CipherUpdate(context->software, out, &length, in, (int)inl) != 1) {
        raise_error(context->provider, OFFLOADSIM_R_CIPHER_ERROR, "the cipher failed");
        return 0;
    }
    *outl = (size_t)length;
    return 1;
}

static int final(void *vcontext, unsigned char *out, size_t *outl, size_t outsize)
{
    cipher_context *context = vcontext;
    (void)outsize;
    *outl = 0;
    if (context->software == NULL)
        return 1;
    int length = 0;
    /* A decryption whose tag does not match fails here, with no error of ours: the caller
     * tells authentication failures from device failures by that. */
    if (EVP_CipherFinal_ex(context->software, out, &length) != 1)
        return 0;
    *outl = (size_t)length;
    return 1;
}

static int cipher_oneshot(void *vcontext, unsigned char *out, size_t *outl, size_t outsize,
                          const unsigned char *in, size_t inl)
{
    if (in == NULL)
        return final(vcontext, out, outl, outsize);
    return update(vcontext, out, outl, outsize, in, inl);
}

/* ---- parameters ---- */

static int set_size(OSSL_PARAM params[], const char *key, size_t value)
{
    OSSL_PARAM *param = OSSL_PARAM_locate(params, key);
    return param == NULL || OSSL_PARAM_set_size_t(param, value);
}

static int set_uint(OSSL_PARAM params[], const char *key, unsigned int value)
{
    OSSL_PARAM *param = OSSL_PARAM_locate(params, key);
    return param == NULL || OSSL_PARAM_set_uint(param, value);
}

static int set_int(OSSL_PARAM params[], const char *key, int value)
{
    OSSL_PARAM *param = OSSL_PARAM_locate(params, key);
    return param == NULL || OSSL_PARAM_set_int(param, value);
}

static int cipher_params(OSSL_PARAM params[], unsigned int mode, size_t keylen, size_t ivlen, int aead)
{
    return set_uint(params, OSSL_CIPHER_PARAM_MODE, mode)
        && set_size(params, OSSL_CIPHER_PARAM_KEYLEN, keylen)
        && set_size(params, OSSL_CIPHER_PARAM_IVLEN, ivlen)
        && set_size(params, OSSL_CIPHER_PARAM_BLOCK_SIZE, 1)
        && set_int(params, OSSL_CIPHER_PARAM_AEAD, aead)
        && set_int(params, OSSL_CIPHER_PARAM_CUSTOM_IV, aead)
        && set_int(params, OSSL_CIPHER_PARAM_CTS, 0)
        && set_int(params, OSSL_CIPHER_PARAM_TLS1_MULTIBLOCK, 0)
        && set_int(params, OSSL_CIPHER_PARAM_HAS_RAND_KEY, 0);
}

static int xor_get_params(OSSL_PARAM params[]) { return cipher_params(params, EVP_CIPH_STREAM_CIPHER, 0, 0, 0); }
static int aes_get_params(OSSL_PARAM params[]) { return cipher_params(params, EVP_CIPH_GCM_MODE, 32, 12, 1); }
static int chacha_get_params(OSSL_PARAM params[]) { return cipher_params(params, 0, 32, 12, 1); }

static const OSSL_PARAM cipher_gettable[] = {
    OSSL_PARAM_uint(OSSL_CIPHER_PARAM_MODE, NULL),
    OSSL_PARAM_size_t(OSSL_CIPHER_PARAM_KEYLEN, NULL),
    OSSL_PARAM_size_t(OSSL_CIPHER_PARAM_IVLEN, NULL),
    OSSL_PARAM_size_t(OSSL_CIPHER_PARAM_BLOCK_SIZE, NULL),
    OSSL_PARAM_int(OSSL_CIPHER_PARAM_AEAD, NULL),
    OSSL_PARAM_int(OSSL_CIPHER_PARAM_CUSTOM_IV, NULL),
    OSSL_PARAM_int(OSSL_CIPHER_PARAM_CTS, NULL),
    OSSL_PARAM_int(OSSL_CIPHER_PARAM_TLS1_MULTIBLOCK, NULL),
    OSSL_PARAM_int(OSSL_CIPHER_PARAM_HAS_RAND_KEY, NULL),
    OSSL_PARAM_END
};

static const OSSL_PARAM *gettable_params(void *provctx)
{
    (void)provctx;
    return cipher_gettable;
}

static const OSSL_PARAM xor_gettable_ctx[] = {
    OSSL_PARAM_size_t(OSSL_CIPHER_PARAM_KEYLEN, NULL),
    OSSL_PARAM_size_t(OSSL_CIPHER_PARAM_IVLEN, NULL),
    OSSL_PARAM_uint(OFFLOADSIM_PARAM_DEVICE_UNIT, NULL),
    OSSL_PARAM_uint64(OFFLOADSIM_PARAM_DEVICE_NANOSECONDS, NULL),
    OSSL_PARAM_END
};

static const OSSL_PARAM device_gettable_ctx[] = {
    OSSL_PARAM_uint(OFFLOADSIM_PARAM_DEVICE_UNIT, NULL),
    OSSL_PARAM_uint64(OFFLOADSIM_PARAM_DEVICE_NANOSECONDS, NULL),
    OSSL_PARAM_END
};

static const OSSL_PARAM empty_settable[] = { OSSL_PARAM_END };

static int get_ctx_params(void *vcontext, OSSL_PARAM params[])
{
    cipher_context *context = vcontext;
    int ok = 1;
    if (context->software != NULL)
        ok = EVP_CIPHER_CTX_get_params(context->software, params);
    else
        ok = set_size(params, OSSL_CIPHER_PARAM_KEYLEN, 0) && set_size(params, OSSL_CIPHER_PARAM_IVLEN, 0);
    if (context->has_device_result) {
        ok = ok && set_uint(params, OFFLOADSIM_PARAM_DEVICE_UNIT, context->device_unit);
        OSSL_PARAM *param = OSSL_PARAM_locate(params, OFFLOADSIM_PARAM_DEVICE_NANOSECONDS);
        ok = ok && (param == NULL || OSSL_PARAM_set_uint64(param, context->device_ns));
    }
    return ok;
}

static int set_ctx_params(void *vcontext, const OSSL_PARAM params[])
{
    cipher_context *context = vcontext;
    if (context->software == NULL || params == NULL)
        return 1;
    return EVP_CIPHER_CTX_set_params(context->software, params);
}

static const OSSL_PARAM *gettable_ctx_params_of(enum cipher_kind kind, void *provctx)
{
    provider_context *provider = provctx;
    return kind == KIND_XOR ? xor_gettable_ctx : provider->gettable_ctx_params[kind];
}

static const OSSL_PARAM *settable_ctx_params_of(enum cipher_kind kind, void *provctx)
{
    provider_context *provider = provctx;
    return kind == KIND_XOR ? empty_settable : EVP_CIPHER_settable_ctx_params(provider->software_ciphers[kind]);
}

#define CIPHER_FUNCTIONS(prefix, KIND)                                                          \
    static const OSSL_PARAM *prefix##_gettable_ctx_params(void *cctx, void *provctx)           \
    {                                                                                           \
        (void)cctx;                                                                             \
        return gettable_ctx_params_of(KIND, provctx);                                           \
    }                                                                                           \
    static const OSSL_PARAM *prefix##_settable_ctx_params(void *cctx, void *provctx)           \
    {                                                                                           \
        (void)cctx;                                                                             \
        return settable_ctx_params_of(KIND, provctx);                                           \
    }                                                                                           \
    static const OSSL_DISPATCH prefix##_functions[] = {                                         \
        { OSSL_FUNC_CIPHER_NEWCTX, (void (*)(void))prefix##_newctx },                           \
        { OSSL_FUNC_CIPHER_FREECTX, (void (*)(void))freectx },                                  \
        { OSSL_FUNC_CIPHER_DUPCTX, (void (*)(void))dupctx },                                    \
        { OSSL_FUNC_CIPHER_ENCRYPT_INIT, (void (*)(void))encrypt_init },                        \
        { OSSL_FUNC_CIPHER_DECRYPT_INIT, (void (*)(void))decrypt_init },                        \
        { OSSL_FUNC_CIPHER_UPDATE, (void (*)(void))update },                                    \
        { OSSL_FUNC_CIPHER_FINAL, (void (*)(void))final },                                      \
        { OSSL_FUNC_CIPHER_CIPHER, (void (*)(void))cipher_oneshot },                            \
        { OSSL_FUNC_CIPHER_GET_PARAMS, (void (*)(void))prefix##_get_params },                   \
        { OSSL_FUNC_CIPHER_GET_CTX_PARAMS, (void (*)(void))get_ctx_params },                    \
        { OSSL_FUNC_CIPHER_SET_CTX_PARAMS, (void (*)(void))set_ctx_params },                    \
        { OSSL_FUNC_CIPHER_GETTABLE_PARAMS, (void (*)(void))gettable_params },                  \
        { OSSL_FUNC_CIPHER_GETTABLE_CTX_PARAMS, (void (*)(void))prefix##_gettable_ctx_params }, \
        { OSSL_FUNC_CIPHER_SETTABLE_CTX_PARAMS, (void (*)(void))prefix##_settable_ctx_params }, \
        { 0, NULL }                                                                             \
    };

CIPHER_FUNCTIONS(xor, KIND_XOR)
CIPHER_FUNCTIONS(aes, KIND_AES_256_GCM)
CIPHER_FUNCTIONS(chacha, KIND_CHACHA20_POLY1305)

static const OSSL_ALGORITHM ciphers[] = {
    { "XOR-0XAA", "provider=offloadsim", xor_functions, "every byte XOR 0xAA, through the simulated accelerator" },
    { "AES-256-GCM:id-aes256-GCM:2.16.840.1.101.3.4.1.46", "provider=offloadsim", aes_functions,
      "AES-256-GCM through the simulated accelerator" },
    { "ChaCha20-Poly1305", "provider=offloadsim", chacha_functions,
      "ChaCha20-Poly1305 through the simulated accelerator" },
    { NULL, NULL, NULL, NULL }
};

/* ---- the provider ---- */

static const OSSL_ALGORITHM *query_operation(void *provctx, int operation_id, int *no_cache)
{
    (void)provctx;
    *no_cache = 0;
    return operation_id == OSSL_OP_CIPHER ? ciphers : NULL;
}

static const OSSL_PARAM provider_gettable[] = {
    OSSL_PARAM_utf8_ptr(OSSL_PROV_PARAM_NAME, NULL, 0),
    OSSL_PARAM_utf8_ptr(OSSL_PROV_PARAM_VERSION, NULL, 0),
    OSSL_PARAM_utf8_ptr(OSSL_PROV_PARAM_BUILDINFO, NULL, 0),
    OSSL_PARAM_int(OSSL_PROV_PARAM_STATUS, NULL),
    OSSL_PARAM_END
};

static const OSSL_PARAM *provider_gettable_params(void *provctx)
{
    (void)provctx;
    return provider_gettable;
}

static int provider_get_params(void *provctx, OSSL_PARAM params[])
{
    (void)provctx;
    OSSL_PARAM *param;
    if ((param = OSSL_PARAM_locate(params, OSSL_PROV_PARAM_NAME)) != NULL
        && !OSSL_PARAM_set_utf8_ptr(param, "offloadsim: simulated crypto accelerator"))
        return 0;
    if ((param = OSSL_PARAM_locate(params, OSSL_PROV_PARAM_VERSION)) != NULL
        && !OSSL_PARAM_set_utf8_ptr(param, "1.0.0"))
        return 0;
    if ((param = OSSL_PARAM_locate(params, OSSL_PROV_PARAM_BUILDINFO)) != NULL
        && !OSSL_PARAM_set_utf8_ptr(param, "offload-http"))
        return 0;
    if ((param = OSSL_PARAM_locate(params, OSSL_PROV_PARAM_STATUS)) != NULL && !OSSL_PARAM_set_int(param, 1))
        return 0;
    return 1;
}

static const OSSL_ITEM reason_strings[] = {
    { OFFLOADSIM_R_DEVICE_ERROR, "accelerator reported a failure" },
    { OFFLOADSIM_R_RING_FULL, "accelerator ring stayed full" },
    { OFFLOADSIM_R_ABORTED, "operation abandoned by the application" },
    { OFFLOADSIM_R_STALLED, "accelerator never completed the operation" },
    { OFFLOADSIM_R_NO_DEVICE, "no accelerator attached" },
    { OFFLOADSIM_R_CIPHER_ERROR, "cipher failure" },
    { 0, NULL }
};

static const OSSL_ITEM *get_reason_strings(void *provctx)
{
    (void)provctx;
    return reason_strings;
}

static void teardown(void *provctx)
{
    provider_context *provider = provctx;
    if (provider == NULL)
        return;
    for (int kind = 0; kind < KIND_COUNT; kind++) {
        EVP_CIPHER_free(provider->software_ciphers[kind]);
        free(provider->gettable_ctx_params[kind]);
    }
    if (provider->software_provider != NULL)
        OSSL_PROVIDER_unload(provider->software_provider);
    OSSL_LIB_CTX_free(provider->software);
    if (provider->owns_device)
        offloadsim_device_free(provider->device);
    free(provider);
}

static const OSSL_DISPATCH provider_functions[] = {
    { OSSL_FUNC_PROVIDER_TEARDOWN, (void (*)(void))teardown },
    { OSSL_FUNC_PROVIDER_QUERY_OPERATION, (void (*)(void))query_operation },
    { OSSL_FUNC_PROVIDER_GETTABLE_PARAMS, (void (*)(void))provider_gettable_params },
    { OSSL_FUNC_PROVIDER_GET_PARAMS, (void (*)(void))provider_get_params },
    { OSSL_FUNC_PROVIDER_GET_REASON_STRINGS, (void (*)(void))get_reason_strings },
    { 0, NULL }
};

/* The software cipher's gettable context parameters followed by the device's. */
static OSSL_PARAM *merge_gettable(const OSSL_PARAM *software)
{
    size_t count = 0;
    while (software != NULL && software[count].key != NULL)
        count++;
    size_t extra = sizeof(device_gettable_ctx) / sizeof(device_gettable_ctx[0]);  /* with END */
    OSSL_PARAM *merged = calloc(count + extra, sizeof(*merged));
    if (merged == NULL)
        return NULL;
    if (count > 0)
        memcpy(merged, software, count * sizeof(*merged));
    memcpy(merged + count, device_gettable_ctx, extra * sizeof(*merged));
    return merged;
}

static int common_init(const OSSL_CORE_HANDLE *handle, const OSSL_DISPATCH *in,
                       const OSSL_DISPATCH **out, void **provctx, OSSL_FUNC_core_get_params_fn **get_params)
{
    provider_context *provider = calloc(1, sizeof(*provider));
    if (provider == NULL)
        return 0;
    provider->handle = handle;
    for (; in != NULL && in->function_id != 0; in++) {
        switch (in->function_id) {
        case OSSL_FUNC_CORE_NEW_ERROR: provider->new_error = OSSL_FUNC_core_new_error(in); break;
        case OSSL_FUNC_CORE_SET_ERROR_DEBUG: provider->set_error_debug = OSSL_FUNC_core_set_error_debug(in); break;
        case OSSL_FUNC_CORE_VSET_ERROR: provider->vset_error = OSSL_FUNC_core_vset_error(in); break;
        case OSSL_FUNC_CORE_GET_PARAMS: if (get_params != NULL) *get_params = OSSL_FUNC_core_get_params(in); break;
        default: break;
        }
    }
    provider->software = OSSL_LIB_CTX_new();
    if (provider->software == NULL
        || (provider->software_provider = OSSL_PROVIDER_load(provider->software, "default")) == NULL)
        goto failed;
    provider->software_ciphers[KIND_AES_256_GCM] =
        EVP_CIPHER_fetch(provider->software, "AES-256-GCM", "provider=default");
    provider->software_ciphers[KIND_CHACHA20_POLY1305] =
        EVP_CIPHER_fetch(provider->software, "ChaCha20-Poly1305", "provider=default");
    for (int kind = KIND_AES_256_GCM; kind < KIND_COUNT; kind++) {
        if (provider->software_ciphers[kind] == NULL)
            goto failed;
        provider->gettable_ctx_params[kind] =
            merge_gettable(EVP_CIPHER_gettable_ctx_params(provider->software_ciphers[kind]));
        if (provider->gettable_ctx_params[kind] == NULL)
            goto failed;
    }
    *out = provider_functions;
    *provctx = provider;
    return 1;
failed:
    teardown(provider);
    return 0;
}

int offloadsim_builtin_init(const OSSL_CORE_HANDLE *handle, const OSSL_DISPATCH *in,
                            const OSSL_DISPATCH **out, void **provctx)
{
    return common_init(handle, in, out, provctx, NULL);
}

void offloadsim_provider_attach_device(void *provctx, offloadsim_device *device)
{
    provider_context *provider = provctx;
    if (provider->owns_device)
        offloadsim_device_free(provider->device);
    provider->device = device;
    provider->owns_device = 0;
}

int offloadsim_module_init(const OSSL_CORE_HANDLE *handle, const OSSL_DISPATCH *in,
                           const OSSL_DISPATCH **out, void **provctx)
{
    OSSL_FUNC_core_get_params_fn *get_params = NULL;
    if (!common_init(handle, in, out, provctx, &get_params))
        return 0;
    provider_context *provider = *provctx;
    offloadsim_config config;
    offloadsim_config_defaults(&config);
    char error[256] = "";
    /* The configuration section first, then the environment over it. */
    static const char *const names[] = {
        "latency", "units", "throughput", "queue-depth", "error-rate", "stall-rate", "seed", "ring-retries",
    };
    enum { NAME_COUNT = sizeof(names) / sizeof(names[0]) };
    char *values[NAME_COUNT] = { NULL };
    OSSL_PARAM params[NAME_COUNT + 1];
    for (size_t index = 0; index < NAME_COUNT; index++)
        params[index] = OSSL_PARAM_construct_utf8_ptr(names[index], &values[index], 0);
    params[NAME_COUNT] = OSSL_PARAM_construct_end();
    int ok = get_params == NULL || get_params(handle, params);
    for (size_t index = 0; ok && index < NAME_COUNT; index++) {
        if (values[index] != NULL)
            ok = offloadsim_config_set(&config, names[index], values[index], error, sizeof(error));
    }
    ok = ok && offloadsim_config_from_environment(&config, error, sizeof(error));
    const char *invalid = ok ? offloadsim_config_check(&config) : NULL;
    if (invalid != NULL) {
        snprintf(error, sizeof(error), "offloadsim: %s", invalid);
        ok = 0;
    }
    if (ok) {
        provider->device = offloadsim_device_new(&config);
        provider->owns_device = provider->device != NULL;
        ok = provider->device != NULL;
    }
    if (!ok) {
        /* OpenSSL's configuration loader drops a provider's errors, and a program then only
         * says that the cipher is unknown: say why on stderr too. */
        fprintf(stderr, "%s; the offloadsim provider is not loaded\n", error[0] ? error : "offloadsim: no device");
        raise_error(provider, OFFLOADSIM_R_NO_DEVICE, "%s", error[0] ? error : "offloadsim: no device");
        teardown(provider);
        *provctx = NULL;
        return 0;
    }
    return 1;
}
