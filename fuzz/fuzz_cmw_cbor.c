/*
 * fuzz_cmw_cbor.c — the evidence CMW collection parser, CBOR form (fuzz_cmw.h).
 */
#define FUZZ_CMW_FORMAT VFY_CMW_CBOR
#include "fuzz_cmw.h"
