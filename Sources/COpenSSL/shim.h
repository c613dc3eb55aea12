#ifndef COPENSSL_SHIM_H
#define COPENSSL_SHIM_H

#include <openssl/async.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/crypto.h>
#include <openssl/provider.h>
#include <openssl/core_names.h>
#include <openssl/params.h>

/// ERR_GET_REASON is a function-like macro, which Swift cannot call.
static inline int COpenSSL_error_reason(unsigned long error)
{
    return ERR_GET_REASON(error);
}

#endif
