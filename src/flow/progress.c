/* Progress of sampling and likelihood runs (flow_ops.h): a count of model
 * evaluations handed to the caller's callback between solver stages, which
 * costs nothing on the device and no host synchronisation. */
#include "flow/flow_ops.h"

void fmcl_progress_solve(fmcl_progress *p, int solve)
{
    p->solve = solve;
    p->solve_start = p->done;
}

fmcl_status fmcl_progress_step(fmcl_ctx *ctx, fmcl_progress *p, double f)
{
    p->done++;
    if (!p->fn) return FMCL_OK;
    long total = p->per_solve * p->solves;
    if (p->per_solve == 0) { /* this solve's pace so far for it and the ones to come */
        const long in_solve = p->done - p->solve_start;
        const long per = f > 0.01 ? (long)(in_solve / f) + 1 : in_solve + 60;
        total = p->solve_start + per * (p->solves - p->solve);
    }
    if (total < p->done) total = p->done;
    if (p->fn(p->user, p->done, total) == 0) return FMCL_OK;
    return fmcl_fail(ctx, FMCL_ERR_CANCELLED,
                     "cancelled by the progress callback after %ld of "
                     "about %ld model evaluations",
                     p->done, total);
}
