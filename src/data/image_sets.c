/* Image data-set specifications (images.h): which files a --data value
 * names, and the split it takes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "data/images.h"
#include "io/atomic.h"

void fmcl_images_free(fmcl_images *im)
{
    free(im->pixels);
    free(im->labels);
    memset(im, 0, sizeof *im);
}

static const char *const prefixes[] = {"mnist:", "idx:", "cifar10:", "images:"};

int fmcl_images_is_spec(const char *spec)
{
    if (!spec) return 0;
    if (strcmp(spec, "fashion-mnist") == 0) return 1;
    for (size_t i = 0; i < sizeof prefixes / sizeof *prefixes; i++)
        if (strncmp(spec, prefixes[i], strlen(prefixes[i])) == 0) return 1;
    return 0;
}

/* dir/stem-ubyte.gz if present, else dir/stem-ubyte; 0 when neither exists. */
static int find_idx(char *out, size_t len, const char *dir, const char *stem)
{
    snprintf(out, len, "%s/%s-ubyte.gz", dir, stem);
    if (access(out, R_OK) == 0) return 1;
    snprintf(out, len, "%s/%s-ubyte", dir, stem);
    return access(out, R_OK) == 0;
}

/* An MNIST-style folder: {train,t10k}-images-idx3-ubyte[.gz] and the labels. */
static fmcl_status load_mnist_dir(const char *dir, int test, int limit, fmcl_images *out,
                                  const char *hint, char *err, size_t errlen)
{
    char images[4200], labels[4200], stem[64];
    const char *split = test ? "t10k" : "train";
    snprintf(stem, sizeof stem, "%s-images-idx3", split);
    if (!find_idx(images, sizeof images, dir, stem))
        return fmcl_errf(err, errlen, FMCL_ERR_IO, "%s/%s-ubyte[.gz] not found; %s", dir, stem,
                         hint);
    snprintf(stem, sizeof stem, "%s-labels-idx1", split);
    int have_labels = find_idx(labels, sizeof labels, dir, stem);
    return fmcl_idx_load(images, have_labels ? labels : NULL, limit, out, err, errlen);
}

/* idx:FILE: the labels file beside it when the name follows the standard
 * pattern (...images-idx3... -> ...labels-idx1...) and it exists. */
static fmcl_status load_idx_file(const char *path, int limit, fmcl_images *out, char *err,
                                 size_t errlen)
{
    char labels[4200];
    const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    const char *at = strstr(base, "images-idx3");
    int have = 0;
    if (at && strlen(path) < sizeof labels) {
        snprintf(labels, sizeof labels, "%.*slabels-idx1%s", (int)(at - path), path,
                 at + strlen("images-idx3"));
        have = access(labels, R_OK) == 0;
    }
    return fmcl_idx_load(path, have ? labels : NULL, limit, out, err, errlen);
}

fmcl_status fmcl_images_open(const char *spec, int test, int size, int channels, int limit,
                             fmcl_images *out, char *what, size_t whatlen, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (!fmcl_images_is_spec(spec))
        return fmcl_errf(err, errlen, FMCL_ERR_ARG,
                         "'%s' is not an image data set (expected fashion-mnist, mnist:DIR, "
                         "idx:FILE, cifar10:PATH or images:DIR)",
                         spec ? spec : "(null)");
    const char *colon = strchr(spec, ':');
    const char *arg = colon ? colon + 1 : "";
    if (colon && !*arg)
        return fmcl_errf(err, errlen, FMCL_ERR_ARG, "'%s' names no file or folder after the ':'",
                         spec);
    fmcl_status s;
    const char *split = "";
    if (strcmp(spec, "fashion-mnist") == 0) {
        s = load_mnist_dir(FMCL_FASHION_MNIST_DIR, test, limit, out,
                           "install Debian's dataset-fashion-mnist (tools/install-deps.sh "
                           "does), or give the files as mnist:DIR",
                           err, errlen);
        split = test ? " test split" : " training split";
    } else if (strncmp(spec, "mnist:", 6) == 0) {
        s = load_mnist_dir(arg, test, limit, out,
                           "mnist:DIR expects the four standard IDX files of MNIST or "
                           "Fashion-MNIST in DIR",
                           err, errlen);
        split = test ? " test split" : " training split";
    } else if (strncmp(spec, "idx:", 4) == 0) {
        s = load_idx_file(arg, limit, out, err, errlen);
    } else if (strncmp(spec, "cifar10:", 8) == 0) {
        struct stat st;
        s = fmcl_cifar_load(arg, test, limit, out, err, errlen);
        if (stat(arg, &st) == 0 && S_ISDIR(st.st_mode))
            split = test ? " test split" : " training split";
    } else {
        if (size < 1 || (channels != 1 && channels != 3))
            return fmcl_errf(err, errlen, FMCL_ERR_ARG,
                             "%s: an image folder needs the side of the square its images are "
                             "resized to and their channels (1 or 3)",
                             spec);
        s = fmcl_imgdir_load(arg, size, channels, limit, out, err, errlen);
    }
    if (s == FMCL_OK && what) {
        char classes[32] = "";
        if (out->labels) snprintf(classes, sizeof classes, ", %d classes", out->classes);
        snprintf(what, whatlen, "%s%s (%d images of %d x %d x %d%s)", spec, split, out->n, out->c,
                 out->h, out->w, classes);
    }
    return s;
}
