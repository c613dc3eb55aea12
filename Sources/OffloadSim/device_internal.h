/* The device's interface to the provider: operations and their notification. */
#ifndef OFFLOADSIM_DEVICE_INTERNAL_H
#define OFFLOADSIM_DEVICE_INTERNAL_H

#include "offloadsim.h"

/* Called by whoever polls the queue, under the queue's lock, when an operation completes
 * (`retry` 0) or when a job that found the ring full should retry (`retry` 1). It must not
 * block and must not call back into the device. */
typedef void (*offloadsim_notify_fn)(void *argument, int retry);

typedef struct offloadsim_op offloadsim_op;

enum offloadsim_op_state {
    OFFLOADSIM_OP_PENDING = 0,
    OFFLOADSIM_OP_DONE = 1,
    OFFLOADSIM_OP_FAILED = 2,
};

enum offloadsim_submit_result {
    OFFLOADSIM_SUBMITTED = 0,
    OFFLOADSIM_RING_FULL = 1,
};

/* The queue the calling thread's operations complete on: its bound queue when that belongs to
 * `device`, else the device's own queue (whose poller thread starts on first use). NULL when
 * the poller thread cannot start. */
offloadsim_queue *offloadsim_queue_for_current_thread(offloadsim_device *device);

/* Places an operation of `bytes` bytes in the ring. On OFFLOADSIM_SUBMITTED `*op` holds it
 * until offloadsim_op_release; `notify` runs once when it completes (never, if it stalls). */
int offloadsim_submit(offloadsim_device *device, offloadsim_queue *queue, size_t bytes,
                      offloadsim_notify_fn notify, void *argument, offloadsim_op **op);

/* Asks for `notify(argument, 1)` after the ring retry delay; `*op` holds the request until
 * offloadsim_op_release. */
int offloadsim_schedule_retry(offloadsim_device *device, offloadsim_queue *queue,
                              offloadsim_notify_fn notify, void *argument, offloadsim_op **op);

/* The operation's state, and once finished the unit and the time on the device. */
int offloadsim_op_state(offloadsim_op *op, uint32_t *unit, uint64_t *device_ns);

/* Drops the job's hold on the operation. `abandon` (the job gives up before completion)
 * makes a later completion skip the notification: the job's wait context may be gone. */
void offloadsim_op_release(offloadsim_op *op, int abandon);

/* Outside an ASYNC job: runs an operation through the device model and sleeps until it
 * completes. Returns 0, or an OFFLOADSIM_R_* reason. */
int offloadsim_run_synchronously(offloadsim_device *device, size_t bytes, uint32_t *unit,
                                 uint64_t *device_ns);

uint64_t offloadsim_monotonic_ns(void);

#endif
