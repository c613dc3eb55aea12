// The floor under bench/run's B: the least an HTTP server can do to answer each request a fixed
// latency after it arrived. One thread, one epoll set, no HTTP library, no job, no metadata: it
// reads a request (head and Content-Length body), answers the body XOR 0xAA as hex once the
// latency has passed, and keeps the connection open. What this reaches of Little's law's ceiling
// on a machine is what wrk and the kernel leave to any server there; it is not a server to use
// (no timeouts, no chunked bodies, a body over 1 KiB closes the connection).
// Usage: minimal-server PORT LATENCY_MICROSECONDS
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_FDS 65536
#define BUFFER_BYTES 8192
#define MAX_BODY 1024

struct connection {
    char buffer[BUFFER_BYTES];
    size_t used;
    unsigned generation;  // bumped when the fd closes: a queued answer for an old one is dropped
};

// Every request has the same latency, so answers fall due in the order their requests came.
struct answer {
    int fd;
    unsigned generation;
    uint64_t due;
    size_t length;
    char text[160 + 2 * MAX_BODY];
};

static struct connection *connections[MAX_FDS];
static struct answer *answers;
static size_t answer_capacity, answer_head, answer_count;

static uint64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static void close_connection(int epoll_fd, int fd) {
    epoll_ctl(epoll_fd, EPOLL_CTL_DEL, fd, NULL);
    close(fd);
    connections[fd]->used = 0;
    connections[fd]->generation++;
}

static struct answer *queue_answer(void) {
    if (answer_count == answer_capacity) {
        size_t capacity = answer_capacity ? 2 * answer_capacity : 4096;
        struct answer *grown = malloc(capacity * sizeof *grown);
        if (grown == NULL) return NULL;
        for (size_t i = 0; i < answer_count; i++) grown[i] = answers[(answer_head + i) % answer_capacity];
        free(answers);
        answers = grown;
        answer_capacity = capacity;
        answer_head = 0;
    }
    return &answers[(answer_head + answer_count++) % answer_capacity];
}

// Takes the complete requests at the start of the connection's buffer; returns -1 to close it.
static int take_requests(int fd, uint64_t latency) {
    struct connection *connection = connections[fd];
    static const char hex[] = "0123456789abcdef";
    for (;;) {
        char *end = memmem(connection->buffer, connection->used, "\r\n\r\n", 4);
        if (end == NULL) return connection->used == BUFFER_BYTES ? -1 : 0;
        size_t head = (size_t)(end - connection->buffer) + 4, body = 0;
        for (char *line = memchr(connection->buffer, '\n', head); line != NULL && line < end;
             line = memchr(line + 1, '\n', (size_t)(end - line))) {
            if (strncasecmp(line + 1, "Content-Length:", 15) == 0) body = strtoul(line + 16, NULL, 10);
        }
        if (body > MAX_BODY) return -1;
        if (connection->used < head + body) return 0;
        struct answer *answer = queue_answer();
        if (answer == NULL) return -1;
        char *text = answer->text;
        int header = sprintf(text, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n\r\n", 2 * body);
        for (size_t i = 0; i < body; i++) {
            unsigned char byte = (unsigned char)connection->buffer[head + i] ^ 0xAA;
            text[header + 2 * i] = hex[byte >> 4];
            text[header + 2 * i + 1] = hex[byte & 15];
        }
        answer->length = (size_t)header + 2 * body;
        answer->fd = fd;
        answer->generation = connection->generation;
        answer->due = now_ns() + latency;
        connection->used -= head + body;
        memmove(connection->buffer, connection->buffer + head + body, connection->used);
    }
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s PORT LATENCY_MICROSECONDS\n", argv[0]);
        return 2;
    }
    uint64_t latency = strtoull(argv[2], NULL, 10) * 1000;
    int listener = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), one = 1;
    setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in address = { .sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[1])),
                                   .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    if (bind(listener, (struct sockaddr *)&address, sizeof address) != 0 || listen(listener, 4096) != 0) {
        perror("minimal-server: listen");
        return 1;
    }
    int epoll_fd = epoll_create1(0);
    struct epoll_event event = { .events = EPOLLIN, .data.fd = listener };
    epoll_ctl(epoll_fd, EPOLL_CTL_ADD, listener, &event);
    struct epoll_event events[256];
    for (;;) {
        int timeout = -1;
        if (answer_count > 0) {
            uint64_t due = answers[answer_head].due, now = now_ns();
            timeout = due > now ? (int)((due - now + 999999) / 1000000) : 0;
        }
        int ready = epoll_wait(epoll_fd, events, 256, timeout);
        for (int i = 0; i < ready; i++) {
            int fd = events[i].data.fd;
            if (fd == listener) {
                int accepted;
                while ((accepted = accept4(listener, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
                    if (accepted >= MAX_FDS) { close(accepted); continue; }
                    if (connections[accepted] == NULL) connections[accepted] = calloc(1, sizeof **connections);
                    if (connections[accepted] == NULL) { close(accepted); continue; }
                    setsockopt(accepted, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    struct epoll_event watch = { .events = EPOLLIN, .data.fd = accepted };
                    epoll_ctl(epoll_fd, EPOLL_CTL_ADD, accepted, &watch);
                }
                continue;
            }
            struct connection *connection = connections[fd];
            ssize_t bytes = read(fd, connection->buffer + connection->used, BUFFER_BYTES - connection->used);
            if (bytes < 0 && errno == EAGAIN) continue;
            if (bytes > 0) connection->used += (size_t)bytes;
            if (bytes <= 0 || take_requests(fd, latency) < 0) close_connection(epoll_fd, fd);
        }
        for (uint64_t now = now_ns(); answer_count > 0 && answers[answer_head].due <= now;) {
            struct answer *answer = &answers[answer_head];
            if (connections[answer->fd]->generation == answer->generation
                && write(answer->fd, answer->text, answer->length) != (ssize_t)answer->length)
                close_connection(epoll_fd, answer->fd);
            answer_head = (answer_head + 1) % answer_capacity;
            answer_count--;
        }
    }
}
