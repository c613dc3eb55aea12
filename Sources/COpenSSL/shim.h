#ifndef COPENSSL_SHIM_H
#define COPENSSL_SHIM_H

#include <string.h>
#include <openssl/async.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/crypto.h>
#include <openssl/provider.h>
#include <openssl/core_names.h>
#include <openssl/params.h>
#include <openssl/pem.h>
#include <openssl/bio.h>
#include <openssl/x509.h>

/// ERR_GET_REASON is a function-like macro, which Swift cannot call.
static inline int COpenSSL_error_reason(unsigned long error)
{
    return ERR_GET_REASON(error);
}

/// A new key pair: EC on P-256 (`group` "P-256") or Ed25519 (`type` "ED25519", no group).
/// EVP_PKEY_Q_keygen is variadic, which Swift cannot call.
static inline EVP_PKEY *COpenSSL_generate_key(const char *type, const char *group)
{
    EVP_PKEY *key = NULL;
    EVP_PKEY_CTX *context = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
    if (context == NULL)
        return NULL;
    if (EVP_PKEY_keygen_init(context) == 1
        && (group == NULL || EVP_PKEY_CTX_set_group_name(context, group) == 1))
        EVP_PKEY_generate(context, &key);
    EVP_PKEY_CTX_free(context);
    return key;
}

/// The private key as PKCS#8 DER, in a buffer OpenSSL allocated (free with OPENSSL_free).
static inline int COpenSSL_private_key_der(EVP_PKEY *key, unsigned char **der)
{
    *der = NULL;
    return i2d_PrivateKey(key, der);
}

/// The public key as PEM (SubjectPublicKeyInfo), into `buffer`; returns its length or -1.
static inline long COpenSSL_public_key_pem(EVP_PKEY *key, char *buffer, long capacity)
{
    BIO *bio = BIO_new(BIO_s_mem());
    if (bio == NULL)
        return -1;
    long length = -1;
    if (PEM_write_bio_PUBKEY(bio, key) == 1) {
        char *data = NULL;
        long size = BIO_get_mem_data(bio, &data);
        if (size > 0 && size <= capacity) {
            memcpy(buffer, data, (size_t)size);
            length = size;
        }
    }
    BIO_free(bio);
    return length;
}

#endif
