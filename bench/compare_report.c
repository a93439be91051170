/* fmcl-compare's tables on stdout and its JSON file (compare.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "compare.h"
#include "io/atomic.h"

const char *const cmp_solver_names[CMP_FIXED] = {"euler", "midpoint", "rk4"};

/* The checkerboard is uniform on 8 squares of side 1 / 0.45. */
#define BOARD_NLL 3.6817

/* Mean and standard error of NLL_OT - NLL_VP over the same points. */
static void paired(const cmp_eval *ot, const cmp_eval *vp, int n, double *mean, double *se)
{
    double s1 = 0, s2 = 0;
    for (int i = 0; i < n; i++) {
        double v = vp->logp[i] - ot->logp[i];
        s1 += v;
        s2 += v * v;
    }
    *mean = s1 / n;
    *se = n > 1 ? sqrt(fmax(0, (s2 - s1 * s1 / n) / (n - 1)) / n) : 0;
}

double cmp_loss_mean(const cmp_path *r, int from, int to)
{
    double s = 0;
    for (int i = from; i < to; i++) s += r->loss[i];
    return s / (to - from);
}

static const char *short_name(int path) { return path == FMCL_PATH_OT ? "OT" : "VP"; }

static void print_cell(FILE *f, const cmp_samples *s)
{
    if (s->pts)
        fprintf(f, "  %6.3f / %5.3f", s->sw2, s->board);
    else
        fprintf(f, "  %14s", "-");
}

void cmp_print(FILE *f, const cmp_opts *o, const cmp_data *d, const cmp_path paths[2],
               const int nfes[CMP_NFES], double total_s)
{
    fprintf(f,
            "checkerboard, MLP 3-%dx%d-2 (SiLU), batch %d, %d steps, Adam lr %g, seed %llu, the "
            "same for both paths; VP with beta_min 0.1, beta_max 20\n\n",
            o->width, o->depth, o->batch, o->steps, o->lr, (unsigned long long)o->seed);
    fprintf(f,
            "Training loss (mean over the steps since the row above; the two paths' losses\n"
            "are on different scales) and exact NLL of %d held-out points in nats (dopri5,\n"
            "atol = rtol = 1e-5, exact divergence; mean +- standard error, NFE of the solve),\n"
            "and OT - VP over the same points (paired standard error). The data's own NLL is\n"
            "ln(8 / 0.45^2) = %.4f.\n",
            d->n_nll, BOARD_NLL);
    fprintf(f, "   step   OT loss   OT NLL             NFE    VP loss   VP NLL             NFE"
               "    OT - VP\n");
    const cmp_eval *e0 = paths[0].evals;
    for (int k = 0; k < paths[0].n_evals; k++) {
        fprintf(f, "  %5d", e0[k].step);
        for (int p = 0; p < 2; p++) {
            const cmp_eval *e = &paths[p].evals[k];
            if (k == 0)
                fprintf(f, "  %8s", "-");
            else
                fprintf(f, "  %8.4f",
                        cmp_loss_mean(&paths[p], paths[p].evals[k - 1].step, e->step));
            fprintf(f, "   %7.4f +- %.4f  %4d ", e->nll, e->nll_se, e->nll_nfe);
        }
        double dm, dse;
        paired(&paths[0].evals[k], &paths[1].evals[k], d->n_nll, &dm, &dse);
        fprintf(f, "  %+.4f +- %.4f\n", dm, dse);
    }
    fprintf(f,
            "\nSamples (%d from the same noise for every solver and path): sliced W2 distance to\n"
            "%d held-out data points (%d directions; lower is better) / fraction on the board.\n"
            "Floor, %d independent data sets of %d points: %.4f +- %.4f (mean +- sd) / %.3f.\n"
            "\"-\": the solver's steps cannot make that NFE.\n",
            d->n_samples, d->ref.m, CMP_DIRS, CMP_FLOOR_SETS, d->n_samples, d->floor_sw2,
            d->floor_sw2_sd, d->floor_board);
    fprintf(f, "  path solver  ");
    for (int j = 0; j < CMP_NFES; j++) fprintf(f, "  %14s%-2d", "NFE ", nfes[j]);
    fprintf(f, "\n");
    for (int p = 0; p < 2; p++) {
        for (int s = 0; s < CMP_FIXED; s++) {
            fprintf(f, "  %-4s %-9s", short_name(paths[p].path), cmp_solver_names[s]);
            for (int j = 0; j < CMP_NFES; j++) print_cell(f, &paths[p].fixed[s][j]);
            fprintf(f, "\n");
        }
        const cmp_samples *a = &paths[p].dopri5;
        fprintf(f, "  %-4s dopri5     %6.3f / %5.3f at NFE %d (%d accepted, %d rejected steps)\n",
                short_name(paths[p].path), a->sw2, a->board, a->nfe, a->accepted, a->rejected);
    }
    fprintf(f, "\nTime: ");
    for (int p = 0; p < 2; p++) {
        double nll_s = 0;
        for (int k = 0; k < paths[p].n_evals; k++) nll_s += paths[p].evals[k].nll_s;
        fprintf(f, "%s training %.1f s, NLL %.1f s, sampling %.1f s; ", short_name(paths[p].path),
                paths[p].train_s, nll_s, paths[p].sample_s);
    }
    fprintf(f, "%.1f s in all\n", total_s);
}

/* JSON has no Inf or NaN: null. */
static void jnum(FILE *f, double v)
{
    if (isfinite(v))
        fprintf(f, "%.6g", v);
    else
        fprintf(f, "null");
}

/* The inside of a JSON string: quotes, backslashes and control characters
 * escaped (device names come from the driver). */
static void jstr(FILE *f, const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
}

static void json_samples(FILE *f, const cmp_samples *s)
{
    fprintf(f, "{\"nfe\": %d, \"accepted\": %d, \"rejected\": %d, \"sliced_w2\": ", s->nfe,
            s->accepted, s->rejected);
    jnum(f, s->sw2);
    fprintf(f, ", \"on_board\": ");
    jnum(f, s->board);
    fprintf(f, "}");
}

static void json_path(FILE *f, const cmp_path *r, const cmp_path *ot, int n_nll)
{
    fprintf(f, "    {\"path\": \"%s\", \"train_s\": %.2f, \"sample_s\": %.2f,\n",
            fmcl_name(FMCL_NAMES_PATH, r->path), r->train_s, r->sample_s);
    fprintf(f, "     \"evals\": [");
    for (int k = 0; k < r->n_evals; k++) {
        const cmp_eval *e = &r->evals[k];
        fprintf(f, "%s\n       {\"step\": %d, \"loss_since_previous\": ", k ? "," : "", e->step);
        if (k == 0)
            fprintf(f, "null");
        else
            jnum(f, cmp_loss_mean(r, r->evals[k - 1].step, e->step));
        fprintf(f, ", \"nll\": ");
        jnum(f, e->nll);
        fprintf(f, ", \"nll_se\": ");
        jnum(f, e->nll_se);
        fprintf(f, ", \"nll_nfe\": %d, \"nll_s\": %.2f", e->nll_nfe, e->nll_s);
        if (r != ot) {
            double dm, dse;
            paired(&ot->evals[k], e, n_nll, &dm, &dse);
            fprintf(f, ", \"nll_ot_minus_this\": ");
            jnum(f, dm);
            fprintf(f, ", \"nll_ot_minus_this_se\": ");
            jnum(f, dse);
        }
        fprintf(f, "}");
    }
    fprintf(f, "],\n     \"samples\": [");
    int first = 1;
    for (int s = 0; s < CMP_FIXED; s++)
        for (int j = 0; j < CMP_NFES; j++) {
            if (!r->fixed[s][j].pts) continue;
            fprintf(f,
                    "%s\n       {\"solver\": \"%s\", \"steps\": %d, \"result\": ", first ? "" : ",",
                    cmp_solver_names[s], r->fixed[s][j].steps);
            json_samples(f, &r->fixed[s][j]);
            fprintf(f, "}");
            first = 0;
        }
    fprintf(f, ",\n       {\"solver\": \"dopri5\", \"atol\": 1e-5, \"rtol\": 1e-5, \"result\": ");
    json_samples(f, &r->dopri5);
    fprintf(f, "}],\n     \"loss\": [");
    for (int i = 0; i < r->evals[r->n_evals - 1].step; i++)
        fprintf(f, "%s%.5g", i ? (i % 20 ? ", " : ",\n       ") : "", r->loss[i]);
    fprintf(f, "]}");
}

fmcl_status cmp_write_json(const char *path, const cmp_opts *o, const cmp_data *d,
                           const cmp_path paths[2], double total_s, const fmcl_device_info *dev,
                           char *err, size_t errlen)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) return fmcl_errf(err, errlen, FMCL_ERR_NOMEM, "out of memory writing %s", path);
    fprintf(f, "{\n  \"program\": \"fmcl-compare\", \"fmcl_version\": \"%s\",\n", FMCL_VERSION);
    fprintf(f, "  \"device\": \"");
    jstr(f, dev->platform_name);
    fprintf(f, " / ");
    jstr(f, dev->device_name);
    fprintf(f, "\",\n");
    fprintf(f,
            "  \"config\": {\"data\": \"checkerboard\", \"width\": %d, \"depth\": %d, "
            "\"batch\": %d, \"steps\": %d, \"lr\": %g, \"seed\": %llu, \"eval_every\": %d,\n"
            "             \"vp_beta_min\": 0.1, \"vp_beta_max\": 20, \"nll\": \"dopri5 atol 1e-5 "
            "rtol 1e-5, exact divergence\", \"nll_points\": %d,\n"
            "             \"samples\": %d, \"sample_measure\": \"sliced W2, %d evenly spaced "
            "directions, against %d held-out data points\"},\n",
            o->width, o->depth, o->batch, o->steps, o->lr, (unsigned long long)o->seed,
            o->eval_every, d->n_nll, d->n_samples, CMP_DIRS, d->ref.m);
    fprintf(f, "  \"data_nll\": %.4f,\n  \"floor\": {\"sets\": %d, \"sliced_w2\": ", BOARD_NLL,
            CMP_FLOOR_SETS);
    jnum(f, d->floor_sw2);
    fprintf(f, ", \"sliced_w2_sd\": ");
    jnum(f, d->floor_sw2_sd);
    fprintf(f, ", \"on_board\": ");
    jnum(f, d->floor_board);
    fprintf(f, "},\n  \"total_s\": %.1f,\n  \"paths\": [\n", total_s);
    json_path(f, &paths[0], &paths[0], d->n_nll);
    fprintf(f, ",\n");
    json_path(f, &paths[1], &paths[0], d->n_nll);
    fprintf(f, "\n  ]\n}\n");
    if (fclose(f) != 0 || !buf) {
        free(buf);
        return fmcl_errf(err, errlen, FMCL_ERR_NOMEM, "out of memory writing %s", path);
    }
    const void *data[1] = {buf};
    fmcl_status s = fmcl_write_file_atomic(path, data, &len, 1, err, errlen);
    free(buf);
    return s;
}
