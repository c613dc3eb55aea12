/*
 * The loadable module offloadsim.so: OpenSSL finds OSSL_provider_init in it when a program
 * loads the provider by name from OPENSSL_MODULES (openssl speed, openssl enc, a
 * configuration file). The device's settings come from the provider's configuration section
 * and the OFFLOAD_DEVICE_* variables, and the provider polls the device with its own thread.
 */
#include <openssl/core.h>

#include "offloadsim.h"

__attribute__((visibility("default")))
int OSSL_provider_init(const OSSL_CORE_HANDLE *handle, const OSSL_DISPATCH *in,
                       const OSSL_DISPATCH **out, void **provctx)
{
    return offloadsim_module_init(handle, in, out, provctx);
}
