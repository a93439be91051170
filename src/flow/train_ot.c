/* The minibatch OT coupling of a training step (trainer.h), over the whole
 * batch whatever the number of ranks: each rank draws its share of x1 (and
 * of the labels) on its device, the shares are gathered on every rank, and
 * every rank solves the same assignment of the whole batch to its noise (a
 * deterministic solver on the same bytes), then keeps the rows its share
 * pairs with. So N ranks train on exactly the pairs of one process; the
 * price is a gather of B (D + 1) floats and the O(B^3) host assignment on
 * every rank (docs/DISTRIBUTED.md measures both). Labels travel with their
 * images: a conditional model sees each image with its own label (dropped
 * or not by the draw of the example the image was drawn for). */
#include <stdlib.h>
#include <string.h>

#include "dist/backend.h"
#include "flow/coupling.h"
#include "flow/trainer.h"

/* Floats of one rank's part of the gather: the rows of the longest share,
 * their labels, and a failure flag. */
static size_t slot_floats(const fmcl_trainer *t, int *longest)
{
    size_t lo, hi;
    fmcl_group_chunk((size_t)t->cfg.batch, fmcl_group_size(t->group), 0, &lo, &hi);
    *longest = (int)(hi - lo);
    return (size_t)*longest * (t->m.dim + 1) + 1;
}

fmcl_status fmcl_train_ot_alloc(fmcl_trainer *t)
{
    const int B = t->cfg.batch, D = t->m.dim, N = fmcl_group_size(t->group);
    int longest;
    const size_t slot = slot_floats(t, &longest), bd = (size_t)B * D;
    t->h_x0 = malloc(bd * sizeof *t->h_x0);
    t->h_x1 = malloc(bd * sizeof *t->h_x1);
    t->h_y = malloc((size_t)B * sizeof *t->h_y);
    t->h_all = malloc((size_t)N * slot * sizeof *t->h_all);
    t->h_mine = malloc(slot * sizeof *t->h_mine);
    t->h_x1p = malloc((size_t)t->rows * D * sizeof *t->h_x1p);
    t->h_yp = malloc((size_t)t->rows * sizeof *t->h_yp);
    t->perm = malloc((size_t)B * sizeof *t->perm);
    t->pair_work = malloc(fmcl_ot_pairing_work(B));
    if (t->h_x0 && t->h_x1 && t->h_y && t->h_all && t->h_mine && t->h_x1p && t->h_yp && t->perm &&
        t->pair_work)
        return FMCL_OK;
    return fmcl_fail(t->ctx, FMCL_ERR_NOMEM,
                     "out of host memory for the OT coupling's %.0f MiB of cost matrix; a "
                     "smaller batch is needed",
                     fmcl_ot_pairing_work(B) / 1048576.0);
}

void fmcl_train_ot_free(fmcl_trainer *t)
{
    float *bufs[] = {t->h_x0, t->h_x1, t->h_y, t->h_all, t->h_mine, t->h_x1p, t->h_yp};
    for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++) free(bufs[i]);
    free(t->perm);
    free(t->pair_work);
}

/* This rank's share, and its failure flag, in its slot. */
static fmcl_status pack_mine(fmcl_trainer *t, int longest, size_t slot, fmcl_status mine)
{
    const int D = t->m.dim, rows = t->rows;
    memset(t->h_mine, 0, slot * sizeof *t->h_mine);
    if (mine == FMCL_OK)
        mine = fmcl_read(t->ctx, t->x1, t->h_mine, (size_t)rows * D * sizeof(float));
    if (mine == FMCL_OK && t->data_of.classes > 0)
        mine = fmcl_read(t->ctx, t->y, t->h_mine + (size_t)longest * D, rows * sizeof(float));
    t->h_mine[slot - 1] = mine == FMCL_OK ? 0.0f : 1.0f;
    return mine;
}

fmcl_status fmcl_train_couple(fmcl_trainer *t, uint32_t k, fmcl_status mine)
{
    const int B = t->cfg.batch, D = t->m.dim, N = fmcl_group_size(t->group);
    const size_t row = (size_t)D * sizeof(float);
    int longest;
    const size_t slot = slot_floats(t, &longest);
    mine = pack_mine(t, longest, slot, mine);
    if (mine != FMCL_OK && N == 1) return mine; /* no one to tell; the message is on ctx */
    const char *why = mine != FMCL_OK ? fmcl_ctx_error(t->ctx) : NULL;
    fmcl_status s = fmcl_group_gather(t->group, t->h_mine, t->h_all, slot * sizeof(float));
    if (s != FMCL_OK) return fmcl_fail(t->ctx, s, "%s", fmcl_group_error(t->group));
    int failed = 0;
    for (int r = 0; r < N; r++) failed |= t->h_all[(size_t)r * slot + slot - 1] != 0.0f;
    if (failed) { /* every rank learns which failed and why */
        s = fmcl_group_agree(t->group, mine, why);
        return fmcl_fail(t->ctx, s != FMCL_OK ? s : FMCL_ERR_GROUP, "%s",
                         fmcl_group_error(t->group));
    }
    for (int r = 0; r < N; r++) {
        size_t lo, hi;
        fmcl_group_chunk((size_t)B, N, r, &lo, &hi);
        const float *from = t->h_all + (size_t)r * slot;
        memcpy(t->h_x1 + lo * D, from, (hi - lo) * row);
        memcpy(t->h_y + lo, from + (size_t)longest * D, (hi - lo) * sizeof(float));
    }
    fmcl_path_noise_ref_at(t->h_x0, t->cfg.seed, k, 0, B, D);
    if (fmcl_ot_pairing(t->h_x0, t->h_x1, B, D, t->perm, t->pair_work) != 0)
        return fmcl_fail(t->ctx, FMCL_ERR_NUMERIC,
                         "step %u: the batch holds a NaN or infinite point, so no OT coupling "
                         "exists; check the data for non-finite values",
                         (unsigned)k + 1);
    for (int i = 0; i < t->rows; i++) {
        const int from = t->perm[t->row0 + i];
        memcpy(t->h_x1p + (size_t)i * D, t->h_x1 + (size_t)from * D, row);
        t->h_yp[i] = t->h_y[from];
    }
    s = fmcl_write(t->ctx, t->x1, t->h_x1p, (size_t)t->rows * row);
    if (s == FMCL_OK && t->data_of.classes > 0)
        s = fmcl_write(t->ctx, t->y, t->h_yp, (size_t)t->rows * sizeof(float));
    return s;
}
