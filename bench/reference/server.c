// The C reference for bench/run: the same threading model as offload-http, with nothing else.
// libmicrohttpd's internal epoll thread parses requests and suspends each POST; a separate
// completion thread resumes it once its latency has passed; the answer is the body XOR 0xAA
// as hex. Usage: reference-server PORT LATENCY_MICROSECONDS
#include <microhttpd.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#define MAX_BODY (1 << 20)

struct request {
    struct MHD_Connection *connection;
    char *body;
    size_t length;
    char *answer;          // hex, set before the connection is suspended
    int ready;             // set by the completion thread before it resumes
    uint64_t due;
    struct request *next;
};

static uint64_t latency_ns;
// A FIFO is ordered by due time because every request has the same latency.
static struct request *queue_head, *queue_tail;
static pthread_mutex_t queue_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t queue_signal;

static uint64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static void *complete(void *unused) {
    (void)unused;
    pthread_mutex_lock(&queue_lock);
    for (;;) {
        while (queue_head == NULL) pthread_cond_wait(&queue_signal, &queue_lock);
        uint64_t now = now_ns();
        if (queue_head->due > now) {
            struct timespec until = { (time_t)(queue_head->due / 1000000000u), (long)(queue_head->due % 1000000000u) };
            pthread_cond_timedwait(&queue_signal, &queue_lock, &until);
            continue;
        }
        struct request *due = queue_head;
        queue_head = due->next;
        if (queue_head == NULL) queue_tail = NULL;
        pthread_mutex_unlock(&queue_lock);
        due->ready = 1;
        MHD_resume_connection(due->connection);
        pthread_mutex_lock(&queue_lock);
    }
    return NULL;
}

static enum MHD_Result answer(struct MHD_Connection *connection, unsigned int status, const char *text) {
    struct MHD_Response *response = MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_MUST_COPY);
    MHD_add_response_header(response, "Content-Type", "text/plain");
    enum MHD_Result result = MHD_queue_response(connection, status, response);
    MHD_destroy_response(response);
    return result;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *connection, const char *url, const char *method,
                              const char *version, const char *upload, size_t *upload_size, void **context) {
    (void)cls; (void)url; (void)version;
    struct request *request = *context;
    if (request == NULL) {
        request = calloc(1, sizeof *request);
        request->connection = connection;
        *context = request;
        return MHD_YES;
    }
    if (*upload_size > 0) {
        if (request->length + *upload_size <= MAX_BODY) {
            request->body = realloc(request->body, request->length + *upload_size);
            memcpy(request->body + request->length, upload, *upload_size);
            request->length += *upload_size;
        }
        *upload_size = 0;
        return MHD_YES;
    }
    if (request->ready) return answer(connection, MHD_HTTP_OK, request->answer);
    if (strcmp(method, "POST") != 0) return answer(connection, MHD_HTTP_METHOD_NOT_ALLOWED, "POST only\n");
    static const char digits[] = "0123456789abcdef";
    request->answer = malloc(request->length * 2 + 1);
    for (size_t i = 0; i < request->length; i++) {
        unsigned char byte = (unsigned char)request->body[i] ^ 0xAA;
        request->answer[2 * i] = digits[byte >> 4];
        request->answer[2 * i + 1] = digits[byte & 15];
    }
    request->answer[request->length * 2] = 0;
    request->due = now_ns() + latency_ns;
    MHD_suspend_connection(connection);
    pthread_mutex_lock(&queue_lock);
    if (queue_tail) queue_tail->next = request; else queue_head = request;
    queue_tail = request;
    pthread_cond_signal(&queue_signal);
    pthread_mutex_unlock(&queue_lock);
    return MHD_YES;
}

static void completed(void *cls, struct MHD_Connection *connection, void **context, enum MHD_RequestTerminationCode code) {
    (void)cls; (void)connection; (void)code;
    struct request *request = *context;
    if (request == NULL) return;
    free(request->body);
    free(request->answer);
    free(request);
    *context = NULL;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s PORT LATENCY_MICROSECONDS\n", argv[0]);
        return 2;
    }
    latency_ns = strtoull(argv[2], NULL, 10) * 1000u;
    // Blocked before any thread starts, so that every thread inherits the mask and the
    // signals reach sigwait below.
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGINT);
    pthread_sigmask(SIG_BLOCK, &signals, NULL);
    pthread_condattr_t attributes;
    pthread_condattr_init(&attributes);
    pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC);
    pthread_cond_init(&queue_signal, &attributes);
    pthread_t completer;
    pthread_create(&completer, NULL, complete, NULL);
    struct MHD_Daemon *daemon = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME,
        (uint16_t)atoi(argv[1]), NULL, NULL, handle, NULL,
        MHD_OPTION_NOTIFY_COMPLETED, completed, NULL,
        MHD_OPTION_CONNECTION_LIMIT, 15000u,
        MHD_OPTION_CONNECTION_TIMEOUT, 30u,
        MHD_OPTION_LISTEN_BACKLOG_SIZE, 4096u,
        MHD_OPTION_END);
    if (daemon == NULL) {
        fprintf(stderr, "could not listen on port %s\n", argv[1]);
        return 1;
    }
    printf("reference server on port %s\n", argv[1]);
    fflush(stdout);
    int received;
    sigwait(&signals, &received);
    return 0;  // the process exits; suspended connections die with it
}
