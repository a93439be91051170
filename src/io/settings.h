/* The settings table (include/fmcl/settings.h) as the library's validators
 * use it: a check by scope and key, and values read from text. */
#ifndef FMCL_IO_SETTINGS_H
#define FMCL_IO_SETTINGS_H

#include <stddef.h>

#include "fmcl.h"

/* fmcl_setting_check of the setting (scope, key); the key must exist. */
fmcl_status fmcl_setting_check_key(fmcl_setting_scope scope, const char *key, double v, char *err,
                                   size_t errlen);
/* A value of a config field and the setting it must satisfy. */
typedef struct {
    fmcl_setting_scope scope;
    const char *key;
    double v;
} fmcl_setting_value;
/* fmcl_setting_check_key of each in turn; the first failure's message. */
fmcl_status fmcl_settings_check(const fmcl_setting_value *v, int n, char *err, size_t errlen);
/* The value of text for s (an integer, a number, a name of its list, 0 or
 * 1; a U64 setting's any unsigned integer, rounded to a double) into *v,
 * checked: FMCL_ERR_FORMAT otherwise, err saying that the key is missing
 * (text NULL), what the text is not, or the range. */
fmcl_status fmcl_setting_read(const fmcl_setting *s, const char *text, double *v, char *err,
                              size_t errlen);

#endif
