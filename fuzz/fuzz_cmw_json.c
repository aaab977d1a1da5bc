/*
 * fuzz_cmw_json.c — the evidence CMW collection parser, JSON form (fuzz_cmw.h).
 */
#define FUZZ_CMW_FORMAT VFY_CMW_JSON
#include "fuzz_cmw.h"
