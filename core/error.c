/* The error table's strings, the context chain, and errno translation. */
#include "tickraft/error.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *tr_strerror(int code)
{
    switch (code) {
    case TR_OK: return "success";
#define TR_ERR_STR_(name, val, desc) case TR_E##name: return desc;
    TR_ERRNO_MAP(TR_ERR_STR_)
#undef TR_ERR_STR_
    }
    return "unknown error";
}

const char *tr_err_name(int code)
{
    switch (code) {
    case TR_OK: return "TR_OK";
#define TR_ERR_NAME_(name, val, desc) case TR_E##name: return "TR_E" #name;
    TR_ERRNO_MAP(TR_ERR_NAME_)
#undef TR_ERR_NAME_
    }
    return "TR_EUNKNOWN";
}

void tr_error_clear(struct tr_error *err)
{
    if (err) {
        err->code = 0;
        err->msg[0] = '\0';
    }
}

int tr_errorf(struct tr_error *err, int code, const char *fmt, ...)
{
    if (!err)
        return code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    err->code = code;
    return code;
}

/* Joins "prefix: rest" into dst, truncating at the end (the innermost
 * detail is the part we can best afford to lose when a chain is long). */
static void join(char *dst, size_t cap, const char *prefix, const char *rest)
{
    size_t n = strnlen(prefix, cap - 1);
    memmove(dst, prefix, n);
    const char *parts[2] = {": ", rest};
    for (int i = 0; i < 2 && n < cap - 1; i++) {
        size_t m = strnlen(parts[i], cap - 1 - n);
        memmove(dst + n, parts[i], m);
        n += m;
    }
    dst[n] = '\0';
}

int tr_error_wrap(struct tr_error *err, int code, const char *fmt, ...)
{
    if (!err)
        return code;
    char prefix[TR_ERRMSG_SIZE];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    if (err->code == 0) {
        err->code = code;
        join(err->msg, sizeof err->msg, prefix, tr_strerror(code));
        return code;
    }
    char inner[TR_ERRMSG_SIZE];
    memcpy(inner, err->msg, sizeof inner);
    join(err->msg, sizeof err->msg, prefix, inner);
    return err->code;
}

int tr_error_recode(struct tr_error *err, int code)
{
    if (err)
        err->code = code;
    return code;
}

int tr_err_from_errno(int e)
{
    switch (e) {
    case 0: return TR_OK;
    case EINVAL: return TR_EINVAL;
    case ENOMEM: return TR_ENOMEM;
    case ENOSPC: case EDQUOT: case EFBIG: return TR_ENOSPACE;
    case ENOENT: return TR_ENOTFOUND;
    case EEXIST: return TR_EEXISTS;
    case EACCES: case EPERM: case EROFS: return TR_EPERM;
    case EAGAIN: return TR_EAGAIN;
    case ETIMEDOUT: return TR_ETIMEDOUT;
    case ECONNREFUSED: return TR_ECONNREFUSED;
    case ECONNRESET: case EPIPE: return TR_ECONNRESET;
    case ECANCELED: return TR_ECANCELED;
    case ERANGE: return TR_ERANGE;
    case EBUSY: return TR_EBUSY;
    default: return TR_EIO;
    }
}
