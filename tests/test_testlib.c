/* The harness can fail (tests/testlib.c). Each scenario runs in a child
 * process (this program with the scenario's name) and must end with its exit
 * code and name what went wrong: a device function that returns non-zero
 * without a failed check, a test or a device that ran no check, a test buffer
 * the device refuses or that cannot exist, a failed check; and a passing
 * scenario exits 0. Devices named in FMCL_TEST_DEVICES that are absent are
 * skipped and named; a spec too long to hold fails. The summary counts the
 * checks per device and in all. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "testlib.h"

/* ---- the scenarios, each a whole test process ---- */

static int dev_pass(fmcl_ctx *ctx, void *user)
{
    (void)ctx, (void)user;
    tl_check(1, "passes");
    return 0;
}

static int dev_returns(fmcl_ctx *ctx, void *user)
{
    (void)ctx, (void)user;
    tl_check(1, "passes");
    return 1; /* a setup step failed without a check saying so */
}

static int dev_no_check(fmcl_ctx *ctx, void *user)
{
    (void)ctx, (void)user;
    return 0;
}

static int dev_check_fails(fmcl_ctx *ctx, void *user)
{
    (void)ctx, (void)user;
    tl_check(1, "passes");
    tl_check(0, "fails on purpose");
    return 0;
}

/* A buffer one float past the device's largest allocation, its result
 * ignored as a careless test would. */
static int dev_buf_refused(fmcl_ctx *ctx, void *user)
{
    (void)user;
    tl_buf b;
    tl_buf_new(ctx, &b, fmcl_ctx_device(ctx)->max_alloc / sizeof(float) + 1, NULL);
    tl_buf_free(&b);
    tl_check(1, "passes");
    return 0;
}

/* A buffer whose size in bytes does not fit in size_t. */
static int dev_buf_overflow(fmcl_ctx *ctx, void *user)
{
    (void)user;
    tl_buf b;
    tl_buf_new(ctx, &b, SIZE_MAX / 2, NULL);
    tl_buf_free(&b);
    tl_check(1, "passes");
    return 0;
}

/* The helpers pass when nothing is wrong. */
static int dev_buf_ok(fmcl_ctx *ctx, void *user)
{
    (void)user;
    const float x[3] = {1, 2, 3};
    float y[3] = {0};
    tl_buf b;
    if (tl_buf_new(ctx, &b, 3, x) && tl_buf_read(ctx, &b, y)) {
        tl_close_f("read back", y, x, 3, 0, 0);
        tl_guard_ok(ctx, &b, "buffer");
    }
    tl_buf_free(&b);
    return 0;
}

static const struct {
    const char *name;
    int (*fn)(fmcl_ctx *, void *); /* NULL: host only */
    int host_check;                /* -1: none, 0 failing, 1 passing */
} scenarios[] = {
    {"host_pass", NULL, 1},
    {"host_check_fails", NULL, 0},
    {"host_no_check", NULL, -1},
    {"device_pass", dev_pass, -1},
    {"device_returns", dev_returns, -1},
    {"device_no_check", dev_no_check, 1}, /* the process ran one: only the device did not */
    {"device_check_fails", dev_check_fails, -1},
    {"buf_refused", dev_buf_refused, -1},
    {"buf_overflow", dev_buf_overflow, -1},
    {"buf_ok", dev_buf_ok, -1},
};
#define N_SCENARIOS (sizeof scenarios / sizeof scenarios[0])

static int run_scenario(const char *name)
{
    for (size_t i = 0; i < N_SCENARIOS; i++) {
        if (strcmp(scenarios[i].name, name) != 0) continue;
        if (scenarios[i].host_check >= 0) tl_check(scenarios[i].host_check, "host check");
        return scenarios[i].fn ? tl_for_each_device(scenarios[i].fn, NULL) : tl_summary();
    }
    fprintf(stderr, "unknown scenario '%s'\n", name);
    return 2;
}

/* ---- the driver ---- */

static const char *self;
static char out[1 << 16];

/* Runs a scenario with FMCL_TEST_DEVICES set to devices (NULL: as it is);
 * its output goes to out. Returns its exit code, -1 when it did not exit. */
static int child(const char *scenario, const char *devices)
{
    const char *was = getenv("FMCL_TEST_DEVICES");
    char *saved = was ? strdup(was) : NULL;
    if (devices) setenv("FMCL_TEST_DEVICES", devices, 1);
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "'%s' %s 2>&1", self, scenario);
    FILE *p = popen(cmd, "r");
    size_t n = p ? fread(out, 1, sizeof out - 1, p) : 0;
    out[n] = 0;
    int status = p ? pclose(p) : -1;
    if (devices) {
        if (saved)
            setenv("FMCL_TEST_DEVICES", saved, 1);
        else
            unsetenv("FMCL_TEST_DEVICES");
    }
    free(saved);
    return status != -1 && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* The scenario exits with want (a device scenario may skip where there is
 * no device) and its output holds each of the strings in says (NULL-ended). */
static void expect(const char *scenario, const char *devices, int want, const char *const *says)
{
    int rc = child(scenario, devices);
    char what[160];
    snprintf(what, sizeof what, "%s%s%s%s", scenario, devices ? " (FMCL_TEST_DEVICES=" : "",
             devices ? devices : "", devices ? ")" : "");
    if (rc == TL_SKIP && want != TL_SKIP && strstr(out, "no device ran")) {
        tl_skip("%s: no device", what);
        return;
    }
    int said = 1;
    for (int i = 0; says && says[i]; i++) said &= strstr(out, says[i]) != NULL;
    printf("  %-60s exit %d (want %d)%s\n", what, rc, want, said ? "" : ", output lacks a line");
    if (!tl_check(rc == want && said, "%s: exit %d, want %d, with every expected line", what, rc,
                  want))
        printf("---- its output:\n%s----\n", out);
}

/* The summary's total of checks, -1 without one. */
static int summary_checks(void)
{
    const char *s = strstr(out, "== summary: ");
    int n = -1;
    return s && sscanf(s, "== summary: %d checks", &n) == 1 ? n : -1;
}

int main(int argc, char **argv)
{
    if (argc == 2) return run_scenario(argv[1]);
    self = argv[0];

    expect("host_pass", NULL, 0, (const char *const[]){"== summary: 1 checks, 0 failures", NULL});
    expect("host_check_fails", NULL, 1, (const char *const[]){"FAIL host check", NULL});
    expect("host_no_check", NULL, 1, (const char *const[]){"this test ran no check", NULL});

    /* The devices: those of FMCL_TEST_DEVICES, else all found. */
    fmcl_device_info *devs = NULL;
    int count = 0;
    char err[1024], first[32] = "";
    const char *env = getenv("FMCL_TEST_DEVICES");
    if (env && *env)
        snprintf(first, sizeof first, "%.*s", (int)strcspn(env, ";"), env);
    else if (fmcl_devices_list(&devs, &count, err, sizeof err) == FMCL_OK && count > 0)
        snprintf(first, sizeof first, "%d:%d", devs[0].platform_index, devs[0].device_index);
    fmcl_devices_free(devs);

    expect("device_pass", NULL, 0, (const char *const[]){"== checks: device ", NULL});
    int checks = summary_checks(), devices = 0;
    for (const char *s = out; (s = strstr(s, "== checks: device ")); s++) devices++;
    if (strstr(out, "no device ran") == NULL)
        tl_check(devices > 0 && checks == devices,
                 "device_pass: the summary counts %d checks for %d devices, want 1 each", checks,
                 devices);
    expect("device_returns", NULL, 1,
           (const char *const[]){"the test function returned 1", first, NULL});
    expect("device_no_check", NULL, 1, (const char *const[]){"ran no check", first, NULL});
    expect("device_check_fails", NULL, 1, (const char *const[]){"fails on purpose", NULL});
    expect("buf_refused", NULL, 1, (const char *const[]){"allocating a test buffer", NULL});
    expect("buf_overflow", NULL, 1, (const char *const[]){"does not fit in memory", NULL});
    expect("buf_ok", NULL, 0, NULL);

    /* Absent devices are skipped and named; with no device left, exit 77. */
    expect("device_pass", "99:99", TL_SKIP,
           (const char *const[]){"== skipped: device 99:99", "no device ran: SKIP", NULL});
    if (first[0]) {
        char both[64];
        snprintf(both, sizeof both, "%s;98:0", first);
        expect("device_pass", both, 0,
               (const char *const[]){"== skipped: device 98:0", "== summary: 1 checks", NULL});
    }
    char longspec[80];
    memset(longspec, 'x', 70);
    longspec[70] = 0;
    expect("device_pass", longspec, 1, (const char *const[]){"longer than 63 characters", NULL});
    return tl_summary();
}
