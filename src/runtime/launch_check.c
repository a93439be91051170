/* Launch checks: each launch's signature (fmcl_run1's sig) against the
 * kernel's declared parameters as the driver reports them, so that a
 * launcher and its kernel cannot drift apart silently. The program is built
 * with -cl-kernel-arg-info while checking (cache.c); a verdict is kept per
 * kernel, so a checked launch costs one string comparison. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/runtime.h"

int fmcl_launch_checks_wanted(void)
{
#ifndef NDEBUG
    return 1;
#else
    const char *e = getenv("FMCL_CHECK_LAUNCHES");
    return e && strcmp(e, "1") == 0;
#endif
}

/* One declared parameter. */
typedef struct {
    cl_kernel_arg_address_qualifier addr;
    char type[64], name[64];
} param;

static cl_int query(cl_kernel k, cl_uint i, param *p)
{
    memset(p, 0, sizeof *p);
    cl_int rc = clGetKernelArgInfo(k, i, CL_KERNEL_ARG_ADDRESS_QUALIFIER, sizeof p->addr, &p->addr,
                                   NULL);
    if (rc == CL_SUCCESS)
        rc = clGetKernelArgInfo(k, i, CL_KERNEL_ARG_TYPE_NAME, sizeof p->type - 1, p->type, NULL);
    if (rc == CL_SUCCESS && clGetKernelArgInfo(k, i, CL_KERNEL_ARG_NAME, sizeof p->name - 1,
                                               p->name, NULL) != CL_SUCCESS)
        p->name[0] = 0; /* the name is for messages only */
    return rc;
}

static int is(const char *type, const char *a, const char *b)
{
    return strcmp(type, a) == 0 || (b && strcmp(type, b) == 0);
}

/* Whether p takes the scalar kind c ('i', 'u', 'f', 'l'; 'o' the uint
 * offset after a 't'). */
static int scalar_fits(char c, const param *p)
{
    if (p->addr != CL_KERNEL_ARG_ADDRESS_PRIVATE) return 0;
    switch (c) {
    case 'i': return is(p->type, "int", NULL);
    case 'u':
    case 'o': return is(p->type, "uint", "unsigned int");
    case 'f': return is(p->type, "float", NULL);
    case 'l': return is(p->type, "ulong", "unsigned long");
    }
    return 0;
}

static int fits(char c, const param *p)
{
    size_t n = strlen(p->type);
    int pointer = n > 0 && p->type[n - 1] == '*';
    switch (c) {
    case 't':
        return pointer && (p->addr == CL_KERNEL_ARG_ADDRESS_GLOBAL ||
                           p->addr == CL_KERNEL_ARG_ADDRESS_CONSTANT);
    case 'L': return pointer && p->addr == CL_KERNEL_ARG_ADDRESS_LOCAL;
    }
    return scalar_fits(c, p);
}

static const char *kind_name(char c)
{
    switch (c) {
    case 't': return "a tensor's __global pointer";
    case 'o': return "a tensor's uint offset";
    case 'i': return "int";
    case 'u': return "uint";
    case 'f': return "float";
    case 'l': return "ulong";
    case 'L': return "a __local buffer";
    }
    return "an unknown kind";
}

static const char *qualifier(cl_kernel_arg_address_qualifier q)
{
    switch (q) {
    case CL_KERNEL_ARG_ADDRESS_GLOBAL: return "__global ";
    case CL_KERNEL_ARG_ADDRESS_LOCAL: return "__local ";
    case CL_KERNEL_ARG_ADDRESS_CONSTANT: return "__constant ";
    }
    return "";
}

/* The driver has no parameter info: checks end for this context. */
static fmcl_status no_info(fmcl_ctx *ctx, const char *kernel, cl_int rc)
{
    ctx->check_launches = 0;
    fmcl_note(ctx, "launch checks: skipped, %s reports no parameter info (kernel %s: %s)\n",
              ctx->info.device_name, kernel, fmcl_cl_strerror(rc));
    return FMCL_OK;
}

fmcl_status fmcl_launch_check(fmcl_ctx *ctx, int slot, const char *sig)
{
    char *seen = ctx->checked[slot];
    if (seen[0] && strcmp(seen, sig) == 0) return FMCL_OK;
    cl_kernel k = ctx->kern[slot];
    char name[64] = "";
    clGetKernelInfo(k, CL_KERNEL_FUNCTION_NAME, sizeof name - 1, name, NULL);
    cl_uint declared = 0;
    cl_int rc = clGetKernelInfo(k, CL_KERNEL_NUM_ARGS, sizeof declared, &declared, NULL);
    if (rc != CL_SUCCESS) return no_info(ctx, name, rc);
    cl_uint i = 0;
    for (const char *c = sig; *c; c++) {
        for (int part = 0; part < (*c == 't' ? 2 : 1); part++, i++) {
            const char kind = part ? 'o' : *c;
            param p;
            if (i >= declared) continue; /* counted for the message below */
            rc = query(k, i, &p);
            if (rc != CL_SUCCESS) return no_info(ctx, name, rc);
            if (!fits(kind, &p))
                return fmcl_fail(ctx, FMCL_ERR_ARG,
                                 "launch of kernel %s with signature \"%s\": argument %u is "
                                 "declared '%s%s%s%s' but the signature gives '%c' (%s)",
                                 name, sig, i, qualifier(p.addr), p.type, p.name[0] ? " " : "",
                                 p.name, *c, kind_name(kind));
        }
    }
    if (i != declared)
        return fmcl_fail(ctx, FMCL_ERR_ARG,
                         "launch of kernel %s with signature \"%s\": the kernel declares %u "
                         "arguments but the signature gives %u",
                         name, sig, declared, i);
    if (strlen(sig) < sizeof ctx->checked[slot]) strcpy(seen, sig);
    return FMCL_OK;
}
