/* What hw/piv.c exposes beyond hw_piv: its checks of a card's answers. */
#ifndef JIT_HW_PIV_H
#define JIT_HW_PIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hw.h"

#define HW_PIV_POINT_LEN 65 /* 04 || X || Y, P-256 */

/*
 * What enrollment accepts from a card: the generated key's point (an
 * uncompressed P-256 point on the curve), its attestation certificate
 * (DER, carrying that key, signed by f9's key) and f9's certificate (DER).
 * ret_simulated: f9 was not issued by Yubico.  A sentence in st on
 * refusal.
 */
int hw_piv_check_enrollment(const uint8_t *point, size_t point_len,
    const uint8_t *att, size_t attlen, const uint8_t *f9, size_t f9len,
    bool *ret_simulated, struct hw_status *st);

#endif
