/* Loading a checkpoint, as far as it goes without a device: the training
 * config and step from its metadata (fmcl_train_config_from_checkpoint, on
 * the input as a file), the U-Net config (fmcl_unet_spec_from_file), the
 * plan a valid one makes, the check that the file holds its weights, and
 * each planned tensor found by name, dtype and shape and converted as
 * fmcl_net_st_read does. */
#include <stdlib.h>

#include "fmcl.h"
#include "fuzz.h"
#include "io/safetensors.h"
#include "nn/model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[1024];
    fmcl_train_config cfg;
    int step = -1;
    if (fmcl_train_config_from_checkpoint(fuzz_file(0, data, size), &cfg, &step, err, sizeof err) ==
            FMCL_OK &&
        step < 0)
        fuzz_fail("a checkpoint without a step");

    fmcl_st_file f;
    if (fmcl_st_parse(data, size, &f, err, sizeof err) != FMCL_OK) return 0;
    fmcl_unet_spec uc;
    fmcl_unet_plan *plan = NULL;
    if (fmcl_unet_spec_from_file(&f, "fuzz", &uc, err, sizeof err) == FMCL_OK &&
        fmcl_unet_plan_create(&uc, 1, &plan, err, sizeof err) == FMCL_OK) {
        /* As the loader: the weights must be in the file before they are
         * given memory. */
        const size_t n = fmcl_unet_plan_params(plan);
        float *flat = fmcl_st_holds(&f, n, err, sizeof err) == FMCL_OK
                          ? malloc(n * sizeof *flat + 1)
                          : NULL;
        for (int i = 0; flat && i < fmcl_unet_plan_tensor_count(plan); i++) {
            const fmcl_unet_param *p = fmcl_unet_plan_tensor(plan, i);
            int64_t shape[4];
            for (int d = 0; d < p->ndim; d++) shape[d] = p->shape[d];
            const fmcl_st_tensor *t;
            if (fmcl_st_expect_float(&f, p->name, p->ndim, shape, &t, err, sizeof err) != FMCL_OK)
                break;
            if (t->nbytes / fmcl_st_dtype_size(t->dtype) != p->n)
                fuzz_fail("a tensor's size is not its plan's");
            if (fmcl_st_floats(t, flat + p->off, err, sizeof err) != FMCL_OK) break;
        }
        free(flat);
        fmcl_unet_plan_free(plan);
    }
    fmcl_st_free(&f);
    return 0;
}
