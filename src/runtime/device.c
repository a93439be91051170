/* Device enumeration and selection: "P:D" indices or a case-insensitive
 * substring of the platform name, platform vendor or device name. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/runtime.h"

#define MAX_PLATFORMS 16
#define MAX_DEVICES 64

static void copy_info(cl_device_id d, cl_device_info what, char *dst, size_t cap)
{
    dst[0] = 0;
    if (clGetDeviceInfo(d, what, cap, dst, NULL) != CL_SUCCESS) dst[0] = 0;
    dst[cap - 1] = 0;
}

static int has_extension(cl_device_id d, const char *ext)
{
    size_t len = 0;
    if (clGetDeviceInfo(d, CL_DEVICE_EXTENSIONS, 0, NULL, &len) != CL_SUCCESS || len == 0) return 0;
    char *s = malloc(len + 1);
    if (!s) return 0;
    int found = 0;
    if (clGetDeviceInfo(d, CL_DEVICE_EXTENSIONS, len, s, NULL) == CL_SUCCESS) {
        s[len] = 0;
        size_t n = strlen(ext);
        for (char *p = strstr(s, ext); p && !found; p = strstr(p + 1, ext))
            found = (p == s || p[-1] == ' ') && (p[n] == 0 || p[n] == ' ');
    }
    free(s);
    return found;
}

static void fill_info(fmcl_device_info *info, cl_platform_id p, cl_device_id d, int pi, int di)
{
    memset(info, 0, sizeof *info);
    info->platform_index = pi;
    info->device_index = di;
    clGetPlatformInfo(p, CL_PLATFORM_NAME, sizeof info->platform_name, info->platform_name, NULL);
    clGetPlatformInfo(p, CL_PLATFORM_VENDOR, sizeof info->platform_vendor, info->platform_vendor,
                      NULL);
    info->platform_name[sizeof info->platform_name - 1] = 0;
    info->platform_vendor[sizeof info->platform_vendor - 1] = 0;
    copy_info(d, CL_DEVICE_NAME, info->device_name, sizeof info->device_name);
    copy_info(d, CL_DEVICE_VERSION, info->device_version, sizeof info->device_version);
    copy_info(d, CL_DRIVER_VERSION, info->driver_version, sizeof info->driver_version);
    copy_info(d, CL_DEVICE_OPENCL_C_VERSION, info->opencl_c_version, sizeof info->opencl_c_version);
    cl_device_type type = 0;
    clGetDeviceInfo(d, CL_DEVICE_TYPE, sizeof type, &type, NULL);
    info->type = (type & CL_DEVICE_TYPE_GPU)           ? FMCL_DEVICE_GPU
                 : (type & CL_DEVICE_TYPE_CPU)         ? FMCL_DEVICE_CPU
                 : (type & CL_DEVICE_TYPE_ACCELERATOR) ? FMCL_DEVICE_ACCELERATOR
                                                       : FMCL_DEVICE_OTHER;
    cl_uint cu = 0;
    cl_ulong mem = 0, alloc = 0;
    size_t wg = 0;
    clGetDeviceInfo(d, CL_DEVICE_MAX_COMPUTE_UNITS, sizeof cu, &cu, NULL);
    clGetDeviceInfo(d, CL_DEVICE_GLOBAL_MEM_SIZE, sizeof mem, &mem, NULL);
    clGetDeviceInfo(d, CL_DEVICE_MAX_MEM_ALLOC_SIZE, sizeof alloc, &alloc, NULL);
    clGetDeviceInfo(d, CL_DEVICE_MAX_WORK_GROUP_SIZE, sizeof wg, &wg, NULL);
    info->compute_units = cu;
    info->global_mem = mem;
    info->max_alloc = alloc;
    info->max_work_group = wg;
    info->fp16 = has_extension(d, "cl_khr_fp16");
    info->fp64 = has_extension(d, "cl_khr_fp64");
}

static void no_platform_message(char *err, size_t errlen, cl_int rc)
{
    snprintf(err, errlen,
             "no OpenCL platform found (%s). Install an OpenCL driver: on Debian/Ubuntu "
             "`apt-get install pocl-opencl-icd` gives a CPU device; GPU vendors ship their own "
             "ICD. `clinfo -l` lists what the loader sees.",
             fmcl_cl_strerror(rc));
}

/* Enumerates (platform, device) pairs; ids may be NULL. */
static fmcl_status enumerate(fmcl_device_info **out, cl_platform_id *pids, cl_device_id *dids,
                             int *count, char *err, size_t errlen)
{
    cl_platform_id plats[MAX_PLATFORMS];
    cl_uint np = 0;
    cl_int rc = clGetPlatformIDs(MAX_PLATFORMS, plats, &np);
    *count = 0;
    *out = NULL;
    if (rc != CL_SUCCESS || np == 0) {
        no_platform_message(err, errlen, rc == CL_SUCCESS ? CL_DEVICE_NOT_FOUND : rc);
        return FMCL_ERR_NO_PLATFORM;
    }
    fmcl_device_info *infos = calloc(MAX_DEVICES, sizeof *infos);
    if (!infos) {
        snprintf(err, errlen, "out of host memory listing devices");
        return FMCL_ERR_NOMEM;
    }
    int n = 0;
    for (cl_uint p = 0; p < np && p < MAX_PLATFORMS; p++) {
        cl_device_id devs[MAX_DEVICES];
        cl_uint nd = 0;
        if (clGetDeviceIDs(plats[p], CL_DEVICE_TYPE_ALL, MAX_DEVICES, devs, &nd) != CL_SUCCESS)
            continue;
        for (cl_uint d = 0; d < nd && d < MAX_DEVICES && n < MAX_DEVICES; d++, n++) {
            fill_info(&infos[n], plats[p], devs[d], (int)p, (int)d);
            if (pids) pids[n] = plats[p];
            if (dids) dids[n] = devs[d];
        }
    }
    if (n == 0) {
        free(infos);
        no_platform_message(err, errlen, CL_DEVICE_NOT_FOUND);
        return FMCL_ERR_NO_PLATFORM;
    }
    *out = infos;
    *count = n;
    return FMCL_OK;
}

fmcl_status fmcl_devices_list(fmcl_device_info **out, int *count, char *err, size_t errlen)
{
    return enumerate(out, NULL, NULL, count, err, errlen);
}

void fmcl_devices_free(fmcl_device_info *devs) { free(devs); }

const char *fmcl_device_type_name(fmcl_device_type type)
{
    static const char *const names[] = {"GPU", "CPU", "ACCELERATOR", "OTHER"};
    return type >= FMCL_DEVICE_GPU && type <= FMCL_DEVICE_OTHER ? names[type] : "OTHER";
}

static int contains_nocase(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    for (; *hay; hay++) {
        size_t i = 0;
        while (i < n && hay[i] &&
               tolower((unsigned char)hay[i]) == tolower((unsigned char)needle[i]))
            i++;
        if (i == n) return 1;
    }
    return n == 0;
}

static void list_devices(const fmcl_device_info *devs, int count, char *buf, size_t cap)
{
    size_t used = strlen(buf);
    for (int i = 0; i < count && used + 1 < cap; i++) {
        int w = snprintf(buf + used, cap - used, "\n  %d:%d  %s / %s (%s)", devs[i].platform_index,
                         devs[i].device_index, devs[i].platform_name, devs[i].device_name,
                         fmcl_device_type_name(devs[i].type));
        if (w < 0) break;
        used += (size_t)w;
    }
}

fmcl_status fmcl_device_select(const fmcl_device_info *devs, int count, const char *spec,
                               int *index, char *err, size_t errlen)
{
    const char *from = "the device spec";
    if (!spec || !*spec) {
        spec = getenv("FMCL_DEVICE");
        from = "$FMCL_DEVICE";
    }
    if (!spec || !*spec) {
        for (int i = 0; i < count; i++)
            if (devs[i].type == FMCL_DEVICE_GPU) {
                *index = i;
                return FMCL_OK;
            }
        *index = 0;
        return count > 0 ? FMCL_OK : FMCL_ERR_NO_DEVICE;
    }
    int p, d;
    char tail;
    if (sscanf(spec, "%d:%d%c", &p, &d, &tail) == 2) {
        for (int i = 0; i < count; i++)
            if (devs[i].platform_index == p && devs[i].device_index == d) {
                *index = i;
                return FMCL_OK;
            }
    } else {
        for (int i = 0; i < count; i++)
            if (contains_nocase(devs[i].platform_name, spec) ||
                contains_nocase(devs[i].platform_vendor, spec) ||
                contains_nocase(devs[i].device_name, spec)) {
                *index = i;
                return FMCL_OK;
            }
    }
    snprintf(err, errlen,
             "%s '%s' matches no OpenCL device; give an index P:D or part of a platform, vendor "
             "or device name. Devices found:",
             from, spec);
    list_devices(devs, count, err, errlen);
    return FMCL_ERR_NO_DEVICE;
}

fmcl_status fmcl_runtime_open(const char *spec, cl_platform_id *pid, cl_device_id *did,
                              fmcl_device_info *info, char *err, size_t errlen)
{
    cl_platform_id pids[MAX_DEVICES];
    cl_device_id dids[MAX_DEVICES];
    fmcl_device_info *devs;
    int count, idx = 0;
    fmcl_status s = enumerate(&devs, pids, dids, &count, err, errlen);
    if (s != FMCL_OK) return s;
    s = fmcl_device_select(devs, count, spec, &idx, err, errlen);
    if (s == FMCL_OK) {
        *pid = pids[idx];
        *did = dids[idx];
        *info = devs[idx];
    }
    free(devs);
    return s;
}

/* Whether devs[i] is one that spec (not a list) matches. */
static int matches(const fmcl_device_info *devs, int count, int i, const char *spec)
{
    int p, d;
    char tail;
    if (!spec || !*spec) { /* the GPUs, else the first device's platform */
        for (int j = 0; j < count; j++)
            if (devs[j].type == FMCL_DEVICE_GPU) return devs[i].type == FMCL_DEVICE_GPU;
        return devs[i].platform_index == devs[0].platform_index;
    }
    if (sscanf(spec, "%d:%d%c", &p, &d, &tail) == 2)
        return devs[i].platform_index == p && devs[i].device_index == d;
    return contains_nocase(devs[i].platform_name, spec) ||
           contains_nocase(devs[i].platform_vendor, spec) ||
           contains_nocase(devs[i].device_name, spec);
}

fmcl_status fmcl_device_select_rank(const fmcl_device_info *devs, int count, const char *spec,
                                    int local_rank, int *index, char *err, size_t errlen)
{
    if ((!spec || !*spec) && getenv("FMCL_DEVICE") && *getenv("FMCL_DEVICE"))
        spec = getenv("FMCL_DEVICE");
    if (local_rank < 0) local_rank = 0;
    const char *comma = spec ? strchr(spec, ',') : NULL;
    if (comma) { /* one spec per local rank, wrapping round the list */
        char one[256];
        int n = 1;
        for (const char *c = spec; *c; c++) n += *c == ',';
        const char *at = spec;
        for (int k = local_rank % n; k > 0; k--) at = strchr(at, ',') + 1;
        size_t len = strcspn(at, ",");
        if (len == 0 || len >= sizeof one) {
            snprintf(err, errlen, "the device list '%s' has an empty or overlong entry %d", spec,
                     local_rank % n + 1);
            return FMCL_ERR_NO_DEVICE;
        }
        snprintf(one, sizeof one, "%.*s", (int)len, at);
        return fmcl_device_select(devs, count, one, index, err, errlen);
    }
    int n = 0;
    for (int i = 0; i < count; i++) n += matches(devs, count, i, spec);
    if (n == 0) return fmcl_device_select(devs, count, spec, index, err, errlen);
    for (int i = 0, k = local_rank % n; i < count; i++)
        if (matches(devs, count, i, spec) && k-- == 0) {
            *index = i;
            break;
        }
    return FMCL_OK;
}
