/*
 * export.h — symbol visibility and attribute macros for libverify.
 *
 * The library is compiled with -fvisibility=hidden; only declarations marked
 * VFY_EXPORT are part of the ABI.
 */
#ifndef VERIFY_EXPORT_H
#define VERIFY_EXPORT_H

#if defined(VFY_BUILDING) && defined(__GNUC__)
#define VFY_EXPORT __attribute__((visibility("default")))
#else
#define VFY_EXPORT
#endif

#if defined(__GNUC__)
/** Marks functions whose result must be checked (every verify function). */
#define VFY_MUST_CHECK __attribute__((warn_unused_result))
#else
#define VFY_MUST_CHECK
#endif

#endif
