/* fmcl devices: list the OpenCL devices, as a table or as JSON. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "cli.h"
#include "fmcl.h"

static void print_json(const fmcl_device_info *d, int count, int def)
{
    printf("[");
    for (int i = 0; i < count; i++) {
        printf("%s\n  {\"index\": \"%d:%d\", \"platform_index\": %d, \"device_index\": %d",
               i ? "," : "", d[i].platform_index, d[i].device_index, d[i].platform_index,
               d[i].device_index);
        printf(", \"platform\": ");
        cli_json_string(stdout, d[i].platform_name);
        printf(", \"vendor\": ");
        cli_json_string(stdout, d[i].platform_vendor);
        printf(", \"device\": ");
        cli_json_string(stdout, d[i].device_name);
        printf(", \"type\": ");
        cli_json_string(stdout, fmcl_device_type_name(d[i].type));
        printf(", \"compute_units\": %u, \"global_mem\": %" PRIu64 ", \"max_alloc\": %" PRIu64
               ", \"max_work_group\": %zu",
               d[i].compute_units, d[i].global_mem, d[i].max_alloc, d[i].max_work_group);
        printf(", \"device_version\": ");
        cli_json_string(stdout, d[i].device_version);
        printf(", \"driver_version\": ");
        cli_json_string(stdout, d[i].driver_version);
        printf(", \"opencl_c_version\": ");
        cli_json_string(stdout, d[i].opencl_c_version);
        printf(", \"fp16\": %s, \"fp64\": %s, \"default\": %s}", d[i].fp16 ? "true" : "false",
               d[i].fp64 ? "true" : "false", i == def ? "true" : "false");
    }
    printf("%s]\n", count ? "\n" : "");
}

/* "OpenCL C 1.2 pocl" -> "1.2". */
static const char *c_version(const char *v, char *buf, size_t len)
{
    const char *prefix = "OpenCL C ";
    if (strncmp(v, prefix, strlen(prefix)) == 0) v += strlen(prefix);
    snprintf(buf, len, "%.*s", (int)strcspn(v, " "), v);
    return buf;
}

static void print_table(const fmcl_device_info *d, int count, int def)
{
    printf("  %-5s %-11s %4s %10s %-9s %-4s %-4s %s\n", "index", "type", "CUs", "memory",
           "OpenCL C", "fp16", "fp64", "platform: device");
    for (int i = 0; i < count; i++) {
        char idx[32], ver[64];
        snprintf(idx, sizeof idx, "%d:%d", d[i].platform_index, d[i].device_index);
        printf("%c %-5s %-11s %4u %6.1f GiB %-9s %-4s %-4s %s: %s\n", i == def ? '*' : ' ', idx,
               fmcl_device_type_name(d[i].type), d[i].compute_units,
               (double)d[i].global_mem / (1024.0 * 1024 * 1024),
               c_version(d[i].opencl_c_version, ver, sizeof ver), d[i].fp16 ? "yes" : "no",
               d[i].fp64 ? "yes" : "no", d[i].platform_name, d[i].device_name);
    }
    if (def >= 0) printf("\n* the device used when no --device is given\n");
}

int cmd_devices(int argc, char **argv)
{
    int json = 0;
    arg_spec specs[] = {
        {.name = "json",
         .type = ARG_BOOL,
         .dest = &json,
         .help = "print the devices as a JSON array instead of a table"},
    };
    arg_cmd cmd = {
        .prog = "fmcl devices",
        .about = "Lists every OpenCL device of every platform: index (P:D, for --device), type,\n"
                 "compute units, global memory, OpenCL C version, fp16/fp64 support. The\n"
                 "device marked * is the default: $FMCL_DEVICE if set, else the first GPU,\n"
                 "else the first device.",
        .specs = specs,
        .n = (int)(sizeof specs / sizeof specs[0]),
    };
    int rc = args_parse(&cmd, argc, argv);
    if (rc != ARGS_OK) return rc == ARGS_HELP ? CLI_OK : rc;

    fmcl_device_info *devs = NULL;
    int count = 0;
    char err[2048];
    if (fmcl_devices_list(&devs, &count, err, sizeof err) != FMCL_OK) return cli_error("%s", err);
    int def = -1;
    if (count > 0 && fmcl_device_select(devs, count, NULL, &def, err, sizeof err) != FMCL_OK) {
        fprintf(stderr, "fmcl devices: note: %s\n", err);
        def = -1;
    }
    if (json)
        print_json(devs, count, def);
    else
        print_table(devs, count, def);
    fmcl_devices_free(devs);
    return CLI_OK;
}
