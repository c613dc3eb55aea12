/*
 * The device's settings as text, as they come from an OpenSSL configuration section or from
 * the OFFLOAD_DEVICE_* variables: the same spellings the service's options take.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "offloadsim.h"

static int fail(char *error, size_t size, const char *name, const char *value, const char *expected)
{
    if (error != NULL && size > 0)
        snprintf(error, size, "offloadsim: %s '%s' is not %s", name, value, expected);
    return 0;
}

/* A number followed by exactly `suffix`. */
static int number_with_suffix(const char *text, const char *suffix, double *value)
{
    size_t length = strlen(text), suffix_length = strlen(suffix);
    if (length <= suffix_length || strcmp(text + length - suffix_length, suffix) != 0)
        return 0;
    char digits[64];
    size_t digit_count = length - suffix_length;
    if (digit_count >= sizeof(digits))
        return 0;
    memcpy(digits, text, digit_count);
    digits[digit_count] = '\0';
    if (digits[0] == '+' || digits[0] == '-' || digits[0] == ' ')
        return 0;
    char *end = NULL;
    errno = 0;
    double parsed = strtod(digits, &end);
    if (errno != 0 || end == digits || *end != '\0' || !isfinite(parsed) || parsed < 0)
        return 0;
    *value = parsed;
    return 1;
}

static int parse_duration(const char *text, uint64_t *nanoseconds)
{
    static const struct { const char *suffix; double scale; } units[] = {
        { "ns", 1 }, { "us", 1e3 }, { "ms", 1e6 }, { "s", 1e9 }, { "m", 60e9 },
    };
    if (strcmp(text, "0") == 0) {
        *nanoseconds = 0;
        return 1;
    }
    for (size_t index = 0; index < sizeof(units) / sizeof(units[0]); index++) {
        double value;
        if (number_with_suffix(text, units[index].suffix, &value) && value * units[index].scale < 1e18) {
            *nanoseconds = (uint64_t)(value * units[index].scale + 0.5);
            return 1;
        }
    }
    return 0;
}

static int parse_whole(const char *text, uint64_t maximum, uint64_t *value)
{
    if (text[0] < '0' || text[0] > '9')
        return 0;
    char *end = NULL;
    errno = 0;
    unsigned long long parsed = strtoull(text, &end, 10);
    if (errno != 0 || *end != '\0' || parsed > maximum)
        return 0;
    *value = parsed;
    return 1;
}

static int parse_throughput(const char *text, double *bytes_per_second)
{
    static const struct { const char *suffix; double scale; } units[] = {
        { "KiB/s", 1024.0 }, { "MiB/s", 1048576.0 }, { "GiB/s", 1073741824.0 },
        { "KB/s", 1e3 }, { "MB/s", 1e6 }, { "GB/s", 1e9 }, { "B/s", 1 }, { "/s", 1 },
    };
    if (strcmp(text, "unlimited") == 0) {
        *bytes_per_second = 0;
        return 1;
    }
    for (size_t index = 0; index < sizeof(units) / sizeof(units[0]); index++) {
        double value;
        if (number_with_suffix(text, units[index].suffix, &value) && value > 0) {
            *bytes_per_second = value * units[index].scale;
            return 1;
        }
    }
    return 0;
}

static int parse_fraction(const char *text, double *fraction)
{
    char *end = NULL;
    errno = 0;
    double parsed = strtod(text, &end);
    if (errno != 0 || end == text || *end != '\0' || !(parsed >= 0 && parsed <= 1))
        return 0;
    *fraction = parsed;
    return 1;
}

int offloadsim_config_set(offloadsim_config *config, const char *name, const char *value,
                          char *error, size_t error_size)
{
    uint64_t whole;
    if (strcmp(name, "latency") == 0) {
        if (!parse_duration(value, &config->latency_ns))
            return fail(error, error_size, name, value, "a duration such as 500us, 2ms or 2s");
    } else if (strcmp(name, "units") == 0) {
        if (!parse_whole(value, 4096, &whole) || whole < 1)
            return fail(error, error_size, name, value, "a whole number from 1 to 4096");
        config->units = (uint32_t)whole;
    } else if (strcmp(name, "throughput") == 0) {
        if (!parse_throughput(value, &config->throughput_bytes_per_second))
            return fail(error, error_size, name, value, "a size per second such as 2GB/s, or unlimited");
    } else if (strcmp(name, "queue-depth") == 0) {
        if (!parse_whole(value, 1u << 24, &whole) || whole < 1)
            return fail(error, error_size, name, value, "a whole number from 1 to 16777216");
        config->queue_depth = (uint32_t)whole;
    } else if (strcmp(name, "error-rate") == 0) {
        if (!parse_fraction(value, &config->error_rate))
            return fail(error, error_size, name, value, "a fraction from 0 to 1");
    } else if (strcmp(name, "stall-rate") == 0) {
        if (!parse_fraction(value, &config->stall_rate))
            return fail(error, error_size, name, value, "a fraction from 0 to 1");
    } else if (strcmp(name, "seed") == 0) {
        if (!parse_whole(value, UINT64_MAX, &config->seed))
            return fail(error, error_size, name, value, "a whole number");
    } else if (strcmp(name, "ring-retries") == 0) {
        if (!parse_whole(value, 1000000, &whole))
            return fail(error, error_size, name, value, "a whole number from 0 to 1000000");
        config->ring_retry_limit = (uint32_t)whole;
    } else {
        if (error != NULL && error_size > 0)
            snprintf(error, error_size, "offloadsim: unknown setting '%s'", name);
        return 0;
    }
    return 1;
}

int offloadsim_config_from_environment(offloadsim_config *config, char *error, size_t error_size)
{
    static const struct { const char *variable; const char *name; } settings[] = {
        { "OFFLOAD_DEVICE_LATENCY", "latency" },
        { "OFFLOAD_DEVICE_UNITS", "units" },
        { "OFFLOAD_DEVICE_THROUGHPUT", "throughput" },
        { "OFFLOAD_DEVICE_QUEUE_DEPTH", "queue-depth" },
        { "OFFLOAD_DEVICE_ERROR_RATE", "error-rate" },
        { "OFFLOAD_DEVICE_STALL_RATE", "stall-rate" },
        { "OFFLOAD_DEVICE_SEED", "seed" },
        { "OFFLOAD_DEVICE_RING_RETRIES", "ring-retries" },
    };
    for (size_t index = 0; index < sizeof(settings) / sizeof(settings[0]); index++) {
        const char *value = getenv(settings[index].variable);
        if (value != NULL && value[0] != '\0'
            && !offloadsim_config_set(config, settings[index].name, value, error, error_size))
            return 0;
    }
    return 1;
}
