// OpenSSL's libcrypto, for the one thing swift-crypto cannot do without allocating: SHA-256
// into caller-owned state (`SHA256_CTX` is a plain C struct that copies by value).
//
// OpenSSL 3 marks the low-level SHA-256 functions deprecated in favour of EVP, whose contexts
// live on the heap; the low-level ones stay supported through 3.x. Suppressing the attribute
// here keeps it from turning into Swift warnings at every call site.
#ifndef GATEHOUSE_COPENSSLCRYPTO_H
#define GATEHOUSE_COPENSSLCRYPTO_H

#define OPENSSL_SUPPRESS_DEPRECATED 1
#include <openssl/sha.h>

#endif
