/*
 * verify.h — umbrella header of libverify: include this one.
 */
#ifndef VERIFY_VERIFY_H
#define VERIFY_VERIFY_H

#include "verify/export.h"
#include "verify/version.h"
#include "verify/error.h"
#include "verify/encoding.h"
#include "verify/digest.h"
#include "verify/binder.h"
#include "verify/ak.h"
#include "verify/pcr.h"
#include "verify/clock.h"
#include "verify/quote.h"
#include "verify/refstore.h"
#include "verify/nonce.h"
#include "verify/jwk.h"
#include "verify/ear.h"
#include "verify/policy.h"
#include "verify/manifest.h"
#include "verify/agent_log.h"
#include "verify/cmw.h"
#include "verify/appraise.h"
#include "verify/attest_body.h"

#endif
