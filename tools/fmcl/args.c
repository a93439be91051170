/* Flag parsing and help text for the fmcl subcommands (see args.h). */
#include "args.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define HELP_COL 26   /* where the description column starts */
#define HELP_WIDTH 79 /* wrap descriptions before this column */
#define GLUE '\x01'   /* a space that never breaks a line: "(default: 512)" */

int args_usage(const arg_cmd *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", cmd->prog);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nRun '%s --help' to see every flag with its range and default.\n", cmd->prog);
    return ARGS_USAGE;
}

arg_spec *args_find(arg_cmd *cmd, const char *name)
{
    for (int i = 0; i < cmd->n; i++)
        if (strcmp(cmd->specs[i].name, name) == 0) return &cmd->specs[i];
    return NULL;
}

void args_bind(arg_cmd *cmd, const arg_binding *b, int n)
{
    for (int i = 0; i < n; i++) {
        char key[64];
        snprintf(key, sizeof key, "%s", b[i].key ? b[i].key : b[i].flag);
        for (char *c = key; *c; c++) *c = *c == '-' ? '_' : *c;
        const fmcl_setting *st = fmcl_setting_find(b[i].scope, key);
        arg_spec *s = args_find(cmd, b[i].flag);
        s->lo = st->lo;
        s->hi = st->hi;
        s->lo_open = st->lo_open;
        if (st->type == FMCL_SETTING_NAME) s->choices = fmcl_names_of(st->names);
    }
}

/* "1 to 8", "at least 1", "greater than 0", ... for messages and help. */
static void range_text(const arg_spec *s, char *buf, size_t len)
{
    if (s->type == ARG_INT) {
        if (s->hi >= INT_MAX)
            snprintf(buf, len, "at least %.0f", s->lo);
        else
            snprintf(buf, len, "%.0f to %.0f", s->lo, s->hi);
    } else if (s->type == ARG_REAL) {
        int unbounded = isinf(s->hi);
        if (s->lo_open && unbounded)
            snprintf(buf, len, "greater than %g", s->lo);
        else if (s->lo_open)
            snprintf(buf, len, "greater than %g, at most %g", s->lo, s->hi);
        else if (unbounded)
            snprintf(buf, len, "at least %g", s->lo);
        else
            snprintf(buf, len, "%g to %g", s->lo, s->hi);
    } else if (s->type == ARG_U64) {
        snprintf(buf, len, "0 to %" PRIu64, UINT64_MAX);
    } else if (s->type == ARG_CHOICE) {
        size_t used = 0;
        buf[0] = '\0';
        for (int i = 0; s->choices[i] && used < len; i++)
            used += (size_t)snprintf(buf + used, len - used, "%s%s", i ? ", " : "one of ",
                                     s->choices[i]);
    } else {
        buf[0] = '\0';
    }
}

/* Integers may also be written as 1e4 or 20000.0, as long as they are whole. */
static int parse_integer(const char *s, long long *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (end != s && *end == '\0' && errno == 0) {
        *out = v;
        return 1;
    }
    errno = 0;
    double d = strtod(s, &end);
    if (end != s && *end == '\0' && errno == 0 && isfinite(d) && d == floor(d) && fabs(d) < 9e18) {
        *out = (long long)d;
        return 1;
    }
    return 0;
}

static int set_value(arg_cmd *cmd, arg_spec *s, const char *val)
{
    char range[256];
    range_text(s, range, sizeof range);
    switch (s->type) {
    case ARG_INT: {
        long long v;
        if (!parse_integer(val, &v))
            return args_usage(cmd, "--%s: '%s' is not an integer (expected %s)", s->name, val,
                              range);
        if ((double)v < s->lo || (double)v > s->hi)
            return args_usage(cmd, "--%s %s is out of range (expected %s)", s->name, val, range);
        *(int *)s->dest = (int)v;
        return ARGS_OK;
    }
    case ARG_U64: {
        char *end;
        errno = 0;
        unsigned long long v = strtoull(val, &end, 10);
        if (strchr(val, '-') || end == val || *end != '\0')
            return args_usage(cmd, "--%s: '%s' is not a non-negative integer (expected %s)",
                              s->name, val, range);
        if (errno == ERANGE)
            return args_usage(cmd, "--%s %s is out of range (expected %s)", s->name, val, range);
        *(uint64_t *)s->dest = (uint64_t)v;
        return ARGS_OK;
    }
    case ARG_REAL: {
        char *end;
        errno = 0;
        double v = strtod(val, &end);
        if (end == val || *end != '\0' || !isfinite(v))
            return args_usage(cmd, "--%s: '%s' is not a number (expected %s)", s->name, val, range);
        if (v < s->lo || (s->lo_open && v == s->lo) || v > s->hi)
            return args_usage(cmd, "--%s %s is out of range (expected %s)", s->name, val, range);
        *(double *)s->dest = v;
        return ARGS_OK;
    }
    case ARG_CHOICE:
        for (int i = 0; s->choices[i]; i++)
            if (strcmp(val, s->choices[i]) == 0) {
                *(const char **)s->dest = s->choices[i];
                return ARGS_OK;
            }
        return args_usage(cmd, "--%s: unknown value '%s' (expected %s)", s->name, val, range);
    case ARG_STR:
        if (val[0] == '\0') return args_usage(cmd, "--%s needs a non-empty value", s->name);
        *(const char **)s->dest = val;
        return ARGS_OK;
    case ARG_BOOL: break;
    }
    return args_usage(cmd, "--%s does not take a value", s->name);
}

int args_parse(arg_cmd *cmd, int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            args_help(cmd, stdout);
            return ARGS_HELP;
        }
        if (strncmp(a, "--", 2) != 0 || a[2] == '\0')
            return args_usage(cmd, "unexpected argument '%s' (every option is a --flag)", a);
        const char *name = a + 2;
        const char *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        arg_spec *s = NULL;
        for (int k = 0; k < cmd->n; k++)
            if (strlen(cmd->specs[k].name) == len && strncmp(cmd->specs[k].name, name, len) == 0)
                s = &cmd->specs[k];
        if (!s) return args_usage(cmd, "unknown flag --%.*s", (int)len, name);
        s->seen = 1;
        if (s->type == ARG_BOOL) {
            if (eq) return args_usage(cmd, "--%s does not take a value", s->name);
            *(int *)s->dest = 1;
            continue;
        }
        const char *val;
        if (eq) {
            val = eq + 1;
        } else {
            if (i + 1 >= argc || strncmp(argv[i + 1], "--", 2) == 0)
                return args_usage(cmd, "--%s needs a value (--%s %s)", s->name, s->name,
                                  s->metavar);
            val = argv[++i];
        }
        int rc = set_value(cmd, s, val);
        if (rc != ARGS_OK) return rc;
    }
    return ARGS_OK;
}

/* The default as the user would type it; "" when there is none to show. */
static void default_text(const arg_spec *s, char *buf, size_t len)
{
    buf[0] = '\0';
    if (s->default_text) {
        snprintf(buf, len, "%s", s->default_text);
        return;
    }
    switch (s->type) {
    case ARG_INT: snprintf(buf, len, "%d", *(const int *)s->dest); break;
    case ARG_U64: snprintf(buf, len, "%" PRIu64, *(const uint64_t *)s->dest); break;
    case ARG_REAL: snprintf(buf, len, "%g", *(const double *)s->dest); break;
    case ARG_STR:
    case ARG_CHOICE:
        if (*(const char *const *)s->dest) snprintf(buf, len, "%s", *(const char *const *)s->dest);
        break;
    case ARG_BOOL: break;
    }
}

/* Prints text word-wrapped into the description column; col is where the
 * cursor stands now. */
static void print_wrapped(FILE *f, const char *text, int col)
{
    while (*text) {
        while (*text == ' ') text++;
        size_t w = strcspn(text, " ");
        if (col > HELP_COL && col + 1 + (int)w > HELP_WIDTH) {
            fprintf(f, "\n%*s", HELP_COL, "");
            col = HELP_COL;
        } else if (col > HELP_COL) {
            fputc(' ', f);
            col++;
        }
        for (size_t i = 0; i < w; i++) fputc(text[i] == GLUE ? ' ' : text[i], f);
        col += (int)w;
        text += w;
    }
    fputc('\n', f);
}

void args_help(const arg_cmd *cmd, FILE *f)
{
    fprintf(f, "usage: %s [flags]\n\n%s\n\nflags:\n", cmd->prog, cmd->about);
    for (int i = 0; i < cmd->n; i++) {
        const arg_spec *s = &cmd->specs[i];
        char left[128], range[256], def[256], text[1024];
        int col = snprintf(left, sizeof left, "  --%s%s%s", s->name, s->metavar ? " " : "",
                           s->metavar ? s->metavar : "");
        fputs(left, f);
        if (col >= HELP_COL - 1) {
            fprintf(f, "\n%*s", HELP_COL, "");
        } else {
            fprintf(f, "%*s", HELP_COL - col, "");
        }
        range_text(s, range, sizeof range);
        default_text(s, def, sizeof def);
        int n = snprintf(text, sizeof text, "%s", s->help);
        if (range[0] && s->type != ARG_U64)
            n += snprintf(text + n, sizeof text - (size_t)n, "; %s", range);
        if (def[0]) snprintf(text + n, sizeof text - (size_t)n, " (default:%c%s)", GLUE, def);
        print_wrapped(f, text, HELP_COL);
    }
    fprintf(f, "%-*sshow this help and exit\n", HELP_COL, "  --help, -h");
    if (cmd->epilog) fprintf(f, "\n%s", cmd->epilog);
}
