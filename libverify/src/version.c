/*
 * version.c — vfy_version() and vfy_version_num().
 */
#include "internal.h"

const char *vfy_version(void)
{
    return VFY_VERSION_STRING;
}

unsigned vfy_version_num(void)
{
    return VFY_VERSION_NUM;
}
