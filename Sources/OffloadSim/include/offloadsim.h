/*
 * offloadsim: a simulated crypto accelerator and the OpenSSL 3 provider in front of it.
 *
 * The device is modelled on Intel QAT: a few pipelined execution units fed from one
 * submission ring of fixed depth, each operation completing after its bytes went through a
 * unit (at a configured throughput) plus a fixed pipeline latency, with seeded error and
 * stall injection. Completions land on completion queues; whoever polls a queue (an engine
 * thread of the service, or the provider's own poller thread when another program loads the
 * module) harvests what is due and notifies the waiting ASYNC jobs.
 *
 * The provider implements XOR-0XAA, AES-256-GCM and ChaCha20-Poly1305 as EVP ciphers. Inside
 * an ASYNC job, `update` submits to the device and pauses the job until the device completes
 * (fd or callback notification, as QAT and UADK do); outside a job it waits synchronously.
 *
 * The service links this module directly (OSSL_PROVIDER_add_builtin with
 * offloadsim_builtin_init); the loadable module offloadsim.so wraps the same code.
 */
#ifndef OFFLOADSIM_H
#define OFFLOADSIM_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/core.h>
#include <openssl/async.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The provider's name, as OSSL_PROVIDER_load and property queries use it. */
#define OFFLOADSIM_PROVIDER_NAME "offloadsim"

/* Reason codes of the errors the provider raises (ERR_GET_REASON). */
#define OFFLOADSIM_R_DEVICE_ERROR 100  /* the device failed the operation (injected error) */
#define OFFLOADSIM_R_RING_FULL 101     /* the ring stayed full for every retry */
#define OFFLOADSIM_R_ABORTED 102       /* the application failed the pending operation */
#define OFFLOADSIM_R_STALLED 103       /* outside a job: the device never completed it */
#define OFFLOADSIM_R_NO_DEVICE 104     /* the provider has no device */
#define OFFLOADSIM_R_CIPHER_ERROR 105  /* the cipher arithmetic failed */

/* Cipher context parameters the provider adds (EVP_CIPHER_CTX_get_params), describing the
 * last operation: the unit that ran it and its time on the device. */
#define OFFLOADSIM_PARAM_DEVICE_UNIT "offloadsim-device-unit"
#define OFFLOADSIM_PARAM_DEVICE_NANOSECONDS "offloadsim-device-ns"

/* How the device behaves. */
typedef struct {
    uint64_t latency_ns;          /* pipeline latency added to every operation */
    uint32_t units;               /* parallel execution units (at least 1) */
    double throughput_bytes_per_second; /* per unit; 0 is unlimited */
    uint32_t queue_depth;         /* submission ring entries (at least 1) */
    double error_rate;            /* fraction of operations failed */
    double stall_rate;            /* fraction of operations never completed */
    uint64_t seed;                /* seed of the fault injection */
    uint32_t ring_retry_limit;    /* retries of a submission that found the ring full */
    uint64_t ring_retry_delay_ns; /* time between those retries */
} offloadsim_config;

/* Fills `config` with the defaults: 2 ms, 4 units, unlimited throughput, 4096 entries, no
 * faults, seed 0, 100 retries 1 ms apart. */
void offloadsim_config_defaults(offloadsim_config *config);

/* Reads OFFLOAD_DEVICE_LATENCY, _UNITS, _THROUGHPUT, _QUEUE_DEPTH, _ERROR_RATE, _STALL_RATE,
 * _SEED and _RING_RETRIES from the environment over `config`. Returns 1, or 0 with a
 * sentence in `error` when a value does not parse. */
int offloadsim_config_from_environment(offloadsim_config *config, char *error, size_t error_size);

/* Sets one setting by its configuration name (latency, units, throughput, queue-depth,
 * error-rate, stall-rate, seed, ring-retries) from text such as "2ms", "4", "2GB/s".
 * Returns 1, or 0 with a sentence in `error`. */
int offloadsim_config_set(offloadsim_config *config, const char *name, const char *value,
                          char *error, size_t error_size);

/* Returns NULL when the configuration is invalid, with a sentence in `error`. */
const char *offloadsim_config_check(const offloadsim_config *config);

typedef struct offloadsim_device offloadsim_device;
typedef struct offloadsim_queue offloadsim_queue;

/* A device with the configuration (which must pass offloadsim_config_check); NULL when out of
 * memory. Free it after every provider using it is unloaded. */
offloadsim_device *offloadsim_device_new(const offloadsim_config *config);
void offloadsim_device_free(offloadsim_device *device);
const offloadsim_config *offloadsim_device_config(const offloadsim_device *device);

/* Operations in the ring now. */
uint32_t offloadsim_device_occupancy(offloadsim_device *device);
/* Nanoseconds unit `unit` spent processing bytes since the device started. */
uint64_t offloadsim_device_unit_busy_ns(offloadsim_device *device, uint32_t unit);

/* A completion queue of the device. Operations submitted by a thread bound to a queue
 * complete on it, and that thread must poll it; operations from unbound threads complete on
 * the device's own queue, which a poller thread of the device serves. */
offloadsim_queue *offloadsim_queue_new(offloadsim_device *device);
/* Frees the queue; operations still on it are dropped without a notification. */
void offloadsim_queue_free(offloadsim_queue *queue);
/* Binds the calling thread to `queue` (NULL unbinds). */
void offloadsim_queue_bind_current_thread(offloadsim_queue *queue);
/* Completes every operation due at or before `now_ns` (CLOCK_MONOTONIC) and notifies their
 * jobs; returns how many. */
size_t offloadsim_queue_poll(offloadsim_queue *queue, uint64_t now_ns);
/* CLOCK_MONOTONIC nanoseconds of the next completion or retry, or UINT64_MAX for none. */
uint64_t offloadsim_queue_next_due(offloadsim_queue *queue);

/* OSSL_provider_init_fn for OSSL_PROVIDER_add_builtin. The provider starts without a device:
 * attach one with offloadsim_provider_attach_device before the first operation. */
int offloadsim_builtin_init(const OSSL_CORE_HANDLE *handle, const OSSL_DISPATCH *in,
                            const OSSL_DISPATCH **out, void **provctx);

/* Gives a built-in provider (OSSL_PROVIDER_get0_provider_ctx) the device it drives; the
 * caller keeps ownership and frees the device after unloading the provider. */
void offloadsim_provider_attach_device(void *provctx, offloadsim_device *device);

/* The provider init of the loadable module: the device comes from the configuration section
 * and the OFFLOAD_DEVICE_* variables, and the provider polls it with its own thread. */
int offloadsim_module_init(const OSSL_CORE_HANDLE *handle, const OSSL_DISPATCH *in,
                           const OSSL_DISPATCH **out, void **provctx);

/* Asks the provider to fail the operation that the job of `wait_ctx` waits for: when that job
 * is next resumed on this thread, its `update` returns an error (OFFLOADSIM_R_ABORTED) and a
 * later device completion is ignored. There is no cancel in OpenSSL; this is how a job that
 * timed out ends promptly. NULL withdraws the request. */
void offloadsim_fail_pending(ASYNC_WAIT_CTX *wait_ctx);

#ifdef __cplusplus
}
#endif

#endif
